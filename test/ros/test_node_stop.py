"""A node told to stop while it is still starting up exits 0, without a traceback.

rclpy's signal handler shuts the context down and then calls Python's; Python's default handler
used to raise KeyboardInterrupt at whatever line ran next, e.g. in the middle of node
construction, and the node ended with a traceback and exit code 1.
"""
from __future__ import annotations

import signal
import subprocess
import sys

from graph_support import isolate_this_process
from helpers import wait_for

isolate_this_process()


def test_a_node_stopped_during_start_up_exits_cleanly(rclpy_context, ros_env):
    import rclpy

    probe = rclpy.create_node('test_node_stop_probe', context=rclpy_context)
    proc = subprocess.Popen([sys.executable, '-m', 'rsdfm_fusion.detection_node'], env=ros_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the name is in the graph as soon as the node exists, before it has loaded its model
        wait_for(lambda: proc.poll() is not None or ('detection_node', '/') in
                 probe.get_node_names_and_namespaces(),
                 timeout=60, interval=0.02, message='detection_node in the graph')
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        probe.destroy_node()
    assert proc.returncode == 0, output
    assert 'Traceback' not in output, output
