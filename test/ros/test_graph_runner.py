"""The runner starts every node of the fleet graph as its own process, and a stop ends them all.

It does the job of ros2 launch where launch_ros is not installable; each node appears in the ROS
graph under its name and namespace, and the stop is clean, whether the nodes were forked from the
warm server (the default) or started as plain `python -m` processes (cold).
"""
from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

from graph_support import isolate_this_process
from helpers import wait_for

isolate_this_process()
RSDFM = str(Path(sys.executable).with_name('rsdfm'))


@pytest.mark.parametrize('warm', [True, False], ids=['warm', 'cold'])
def test_runner_brings_up_and_stops_the_whole_graph(tmp_path, rclpy_context, ros_env, warm):
    import rclpy

    from rsdfm_bringup.readiness import GraphReadiness
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_bringup.session import BackgroundSpin
    from rsdfm_core.graph import fleet_graph

    graph = fleet_graph(namespaces=['uav1', 'scout2'], parameters={'threads': 1})
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs', env=ros_env, warm=warm)
    node = rclpy.create_node('test_runner_probe', context=rclpy_context)
    # each node's own report on /diagnostics: the graph can still list the nodes of the
    # previous parametrization for a while, under the same names
    readiness = GraphReadiness(node, graph)
    spin = BackgroundSpin(node, rclpy_context)
    try:
        runner.start()
        expected = {spec.full_name for spec in graph.nodes}

        def ready():
            assert not runner.exited(), (
                f'nodes died: {runner.exited()}; logs in {tmp_path / "logs"}'
            )
            names = {(ns.rstrip('/') + '/' + n) for n, ns in node.get_node_names_and_namespaces()}
            # each endpoint is discovered on its own: a node's subscriber can be seen first
            return expected <= names and expected <= set(readiness.latest) and all(
                node.count_subscribers(t) > 0
                for t in ('/uav1/camera/image_raw', '/scout2/camera/image_raw', '/rsdfm/fused_bev')
            ) and node.count_publishers('/scout2/rsdfm/bev_feature') > 0
        wait_for(ready, timeout=90, interval=0.2, message='every node up, subscribed, publishing')
        assert node.count_publishers('/scout2/rsdfm/bev_feature') == 1
    finally:
        codes = runner.stop(timeout=20)
        spin.stop()
        node.destroy_node()
    assert codes == dict.fromkeys(expected, 0), codes
    assert runner.warm is warm, 'the warm server fell back to cold starts (see the log)'


def test_run_refuses_a_bad_fleet_in_one_line(ros_env):
    for args, words in (
        (['--drones', '0'], 'at least one drone'),
        (['--namespaces', 'uav1,2x'], 'bad drone namespace'),
        (['--param', 'threads'], 'NAME=VALUE'),
    ):
        proc = subprocess.run(
            [RSDFM, 'run', *args], env=ros_env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2 and words in proc.stderr and 'Traceback' not in proc.stderr, (
            proc.stderr
        )
