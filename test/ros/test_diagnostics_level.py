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


def test_messages_lost_in_a_full_queue_are_counted_per_topic(rclpy_context):
    """A burst into a reader queue of depth 2 that is not taken: the 48 overwritten are counted."""
    from diagnostic_msgs.msg import DiagnosticStatus
    import rclpy
    from rclpy.duration import Duration
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from rsdfm_ros.diagnostics import diagnostic_values, NodeDiagnostics
    from rsdfm_ros.qos import result_qos

    sender = rclpy.create_node('diagnostics_loss_sender', context=rclpy_context)
    node = rclpy.create_node('diagnostics_loss_test', context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    try:
        diag = NodeDiagnostics(node)
        taken: list[str] = []
        sub = node.create_subscription(
            String, 'loss_test', diag.counting_losses('loss_test', lambda m: taken.append(m.data)),
            result_qos(depth=2))
        pub = sender.create_publisher(String, 'loss_test', result_qos(depth=100))
        wait_for(lambda: pub.get_subscription_count() == 1 and sub.get_publisher_count() == 1,
                 timeout=10, interval=0.05, message='publisher and subscription matched')
        pub.publish(String(data='first'))
        wait_for(lambda: executor.spin_once(timeout_sec=0.05) or taken == ['first'], timeout=10,
                 interval=0.0, message='first message taken')
        assert diag.status().level == DiagnosticStatus.OK
        for i in range(50):                   # nothing is taken meanwhile: 48 are overwritten
            pub.publish(String(data=str(i)))
        assert pub.wait_for_all_acked(Duration(seconds=10))   # all 50 reached the reader's queue
        wait_for(lambda: executor.spin_once(timeout_sec=0.05) or taken[-1:] == ['49'], timeout=10,
                 interval=0.0, message='the last message taken')
        values = diagnostic_values(diag.status())
        assert taken == ['first', '48', '49'], taken
        assert values['lost'] == '48' and values['lost.loss_test'] == '48', values
        assert diag.status().level == DiagnosticStatus.WARN
    finally:
        executor.shutdown()
        node.destroy_node()
        sender.destroy_node()


def test_processing_cpu_time_leaves_out_the_wait(rclpy_context):
    """Wall time counts a wait for a core; the CPU figure holds only the thread's own work."""
    import threading
    import time

    import rclpy

    from rsdfm_ros.diagnostics import diagnostic_values, NodeDiagnostics

    node = rclpy.create_node('diagnostics_cpu_test', context=rclpy_context)
    try:
        diag = NodeDiagnostics(node)
        assert diagnostic_values(diag.status())['processing_cpu_ms_median'] == 'nan'
        for _ in range(3):
            started = diag.start()
            work_until = time.thread_time() + 0.03
            while time.thread_time() < work_until:       # 30 ms of this thread's CPU
                pass
            threading.Event().wait(0.2)                    # 200 ms of waiting, no CPU
            diag.output(time.time_ns(), started)
        values = diagnostic_values(diag.status())
        wall = float(values['processing_ms_median'])
        cpu = float(values['processing_cpu_ms_median'])
        assert wall >= 230 and 30 <= cpu < 100, values
    finally:
        node.destroy_node()
