"""A crashed node costs the fleet a few seconds, not the run.

The runner (`rsdfm run`'s, with respawn on, like launch's respawn=True) restarts a killed fusion
node and a killed perception node after its back-off, and fused maps come again, with the
restarted drone in them, within 3 s of the restart. Forked from the runner's warm server, a node
is up (model loaded) 0.6-0.7 s after its restart on an idle machine here (2.4-3.1 s as a fresh
process). Before the restart a participant placeholder takes the killed process's DDS
participant ID (checked here by its ports), so the new process gets another one: given the same
ID, the surviving processes delivered to it only about 3 s after it started. A 2-drone graph
fed by a looping replay, real processes over DDS.
"""
from __future__ import annotations

import os
import threading
import time

import pytest

from graph_support import inputs_matched, isolate_this_process, make_bag, play_topics, Probe
from helpers import wait_for

isolate_this_process()

RESTART_TARGET_S = 3.0             # fused again within this of the restart
UP_BOUND_S = 1.0                   # a node forked from the warm server is up within this
MODEL_LOADED = 'thread(s)'         # load_runtime's log line: the model is loaded


def participant_ports(pid: int) -> set[int]:
    """Return the UDP ports of a process's DDS participant (its participant ID's ports)."""
    import psutil
    base = 7400 + 250 * int(os.environ['ROS_DOMAIN_ID'])
    return {c.laddr.port for c in psutil.Process(pid).net_connections(kind='udp')
            if base + 10 <= c.laddr.port < base + 250}


class FusedWatch:
    """Arrival time (monotonic) and agents of every fused map, from a probe subscription."""

    def __init__(self, probe) -> None:
        from rsdfm_msgs.msg import FusedBev
        from rsdfm_ros.qos import result_qos
        self.arrivals: list[tuple[float, tuple[str, ...]]] = []
        self.lock = threading.Lock()
        probe.node.create_subscription(
            FusedBev, '/rsdfm/fused_bev', self._keep, result_qos(depth=50)
        )

    def _keep(self, msg) -> None:
        with self.lock:
            self.arrivals.append((time.monotonic(), tuple(msg.agents)))

    def first_after(self, t: float, agent: str | None = None) -> float | None:
        with self.lock:
            return next((a for a, agents in self.arrivals
                         if a > t and (agent is None or agent in agents)), None)


@pytest.mark.slow
def test_killed_nodes_are_respawned_and_fused_again(tmp_path, rclpy_context, ros_env):
    from rsdfm_bringup.replay import BagReplay
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph

    bag = make_bag(tmp_path / 'bag', drones=2, frames=20)
    graph = fleet_graph(drones=2, parameters={'threads': 1, 'image_qos': 'reliable'})
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs', env=ros_env, respawn=True)
    runner.start(['/uav1/perception_node', '/uav2/perception_node', '/fusion_node'])
    probe = Probe(rclpy_context, {}, name='respawn_probe')
    watch = FusedWatch(probe)
    stop = threading.Event()
    player = None
    try:
        # 3 Hz: the graph keeps up on two shared cores, so a restart is timed, not the backlog
        replay = BagReplay(probe.node, bag, rate=0.3, topics=play_topics(['/uav1', '/uav2']),
                           restamp=True, loop=True, camera_qos_kind='reliable')
        wait_for(
            lambda: inputs_matched(replay, 2),
            timeout=90,
            interval=0.2,
            message='perception nodes connected',
        )
        player = threading.Thread(
            target=replay.play, kwargs={'stop': stop, 'progress': False}, daemon=True
        )
        player.start()
        wait_for(
            lambda: watch.first_after(0.0, 'uav2') and watch.first_after(0.0, 'uav1'),
            timeout=90,
            interval=0.1,
            message='both drones fused before any crash',
        )

        logs = tmp_path / 'logs'
        for name, agent in (('/fusion_node', None), ('/uav2/perception_node', 'uav2')):
            log = logs / (name.strip('/').replace('/', '.') + '.log')
            loaded_before = log.read_text().count(MODEL_LOADED)
            old_pid = runner.processes[name].pid
            old_ports = participant_ports(old_pid)
            killed = time.monotonic()
            runner.kill_node(name)
            wait_for(lambda: runner.processes[name].pid != old_pid, timeout=30, interval=0.05,
                     message=f'{name} respawned')
            restarted = runner._started_at[name]
            up = wait_for(lambda: log.read_text().count(MODEL_LOADED) > loaded_before
                          and time.monotonic(), timeout=60, interval=0.05,
                          message=f'{name} up again (model loaded)')
            back = wait_for(lambda: watch.first_after(restarted, agent), timeout=60, interval=0.05,
                            message=f'fused maps after {name} restarted')
            print(f'{name}: respawned {restarted - killed:.2f} s after the kill, up (model '
                  f'loaded) {up - restarted:.2f} s after the restart, fused again '
                  f'{back - restarted:.2f} s after the restart (target {RESTART_TARGET_S:g} s), '
                  f'{back - up:.2f} s after it was up')
            placeholder = runner._placeholders[name][0]
            assert placeholder.poll() is None, 'the placeholder holds the dead participant ID'
            assert participant_ports(placeholder.pid) == old_ports, (
                participant_ports(placeholder.pid), old_ports)
            assert not participant_ports(runner.processes[name].pid) & old_ports
            assert restarted - killed <= 1.0, 'the first back-off is 0.5 s'
            assert up - restarted <= UP_BOUND_S, f'{name} took {up - restarted:.2f} s to start'
            # 10 restarts here: fusion 1.0-1.6 s, perception 1.3-2.2 s
            assert back - restarted <= RESTART_TARGET_S, (name, back - restarted, back - up)
        assert runner.restarts == {'/fusion_node': 1, '/uav2/perception_node': 1}
    finally:
        stop.set()
        if player is not None:
            player.join(10)
        probe.close()
        runner.stop(timeout=20)
