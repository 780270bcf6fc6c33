"""A node told to stop while it is still starting up exits 0, without a traceback, and promptly.

Python's default SIGINT handler raised KeyboardInterrupt at whatever line ran next: in the middle
of node construction (a traceback and exit code 1), or inside a callback whose exceptions Python
ignores, and then the stop was lost and the node ran on. SIGINT is now a stop request that
run_nodes acts on (rsdfm_ros.stop_request). Both ways a node starts: its own process, or forked
from the runner's warm server, where SIGINT can come while the node still imports its modules.
"""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize('module', ['rsdfm_fusion.detection_node',
                                    'rsdfm_perception.perception_node'])
def test_a_forked_node_stopped_while_it_imports_exits_cleanly(tmp_path, ros_env, module):
    from rsdfm_bringup.warm_start import WarmStarter

    starter = WarmStarter(ros_env)
    log = tmp_path / 'node.log'
    try:
        proc = starter.start(module, [], ros_env, str(log))
        proc.send_signal(signal.SIGINT)       # the fork has just begun to import the node
        try:
            code = proc.wait(timeout=60)      # a lost request would leave it running
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f'{module} ran on after SIGINT: {log.read_text()}') from None
    finally:
        starter.close()
    assert code == 0, log.read_text()
    assert 'Traceback' not in log.read_text(), log.read_text()
