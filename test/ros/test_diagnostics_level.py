"""/diagnostics level of a node: WARN while it is refusing input, OK again once refusals stop.

The refusal counters are kept (a real rclpy node, no graph needed).
"""
from __future__ import annotations

from graph_support import isolate_this_process
from helpers import wait_for

isolate_this_process()


def test_level_returns_to_ok_once_refusals_stop(rclpy_context):
    from diagnostic_msgs.msg import DiagnosticStatus
    import rclpy

    from rsdfm_ros.diagnostics import diagnostic_values, NodeDiagnostics

    node = rclpy.create_node('diagnostics_level_test', context=rclpy_context)
    try:
        diag = NodeDiagnostics(node, warn_hold=0.3)
        assert diag.status().level == DiagnosticStatus.OK
        diag.refuse('image_step', 'a bad image')
        assert diag.status().level == DiagnosticStatus.WARN
        wait_for(lambda: diag.status().level == DiagnosticStatus.OK, timeout=5, interval=0.05,
                 message='level back to OK after the hold')
        status = diag.status()
        assert diagnostic_values(status)['refused.image_step'] == '1'
        assert 'image_step' in status.message
        diag.refuse('image_step', 'another one')
        assert diag.status().level == DiagnosticStatus.WARN
    finally:
        node.destroy_node()
