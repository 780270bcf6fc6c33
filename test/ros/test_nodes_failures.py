"""The fleet keeps working when drones misbehave (graph as processes over real DDS).

- a drone killed mid-run: fusion goes on with the others and /diagnostics reports it dropped;
  restarted, it is fused again;
- a drone whose clock is 2 s behind and one running another model: their maps are refused,
  counted on /diagnostics and logged once per kind; the other drones are fused.
"""
from __future__ import annotations

import threading

import pytest

from graph_support import inputs_matched, isolate_this_process, make_bag, play_topics, Probe
from helpers import wait_for

isolate_this_process()

FAST_FAILOVER = {'threads': 1, 'drone_timeout': 1.5, 'max_wait': 0.6, 'image_qos': 'reliable'}


def _start(tmp_path, ros_env, namespaces):
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph

    graph = fleet_graph(namespaces=namespaces, parameters=FAST_FAILOVER)
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs', env=ros_env)
    runner.start([f'/{ns}/perception_node' for ns in namespaces] + ['/fusion_node'])
    return runner


def _looping_replay(node, bag, namespaces):
    """Replay the bag over and over (restamped, so stamps keep growing) in a background thread."""
    from rsdfm_bringup.replay import BagReplay

    replay = BagReplay(
        node,
        bag,
        rate=0.2,
        loop=True,
        topics=play_topics([f'/{n}' for n in namespaces]),
        restamp=True,
        camera_qos_kind='reliable',
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=replay.play, kwargs={'stop': stop, 'progress': False}, daemon=True
    )
    return replay, stop, thread


def _fused_agents_since(probe, count: int) -> list[set]:
    return [set(m.agents) for m in probe.get('/rsdfm/fused_bev')[count:]]


def test_killed_drone_is_dropped_reported_and_used_again_after_restart(
    tmp_path, rclpy_context, ros_env
):
    from diagnostic_msgs.msg import DiagnosticArray

    from rsdfm_msgs.msg import FusedBev

    drones = ['uav1', 'uav2', 'uav3']
    bag = make_bag(tmp_path / 'bag', drones=3, frames=6, width=160, height=120)
    runner = _start(tmp_path, ros_env, drones)
    probe = Probe(rclpy_context, {'/rsdfm/fused_bev': FusedBev, '/diagnostics': DiagnosticArray})
    replay, stop, thread = _looping_replay(probe.node, bag, drones)
    try:
        def alive():
            assert not runner.exited(), (
                f'nodes died: {runner.exited()}; logs in {tmp_path / "logs"}'
            )
            return True

        wait_for(
            lambda: (
                alive()
                and all(
                    probe.node.count_subscribers(f'/{d}/rsdfm/bev_feature') >= 1 for d in drones
                )
                and inputs_matched(replay, len(drones))
            ),
            timeout=90,
            interval=0.2,
            message='graph up',
        )
        thread.start()
        wait_for(lambda: set(drones) in _fused_agents_since(probe, 0), timeout=60, interval=0.2,
                 message='a map fused from all three drones')

        runner.kill_node('/uav2/perception_node')
        mark = len(probe.get('/rsdfm/fused_bev'))
        wait_for(
            lambda: _fused_agents_since(probe, mark)[-3:] == [{'uav1', 'uav3'}] * 3,
            timeout=60,
            interval=0.2,
            message='fusion going on with uav1 and uav3',
        )
        wait_for(
            lambda: (
                'uav2' in probe.diagnostics('/fusion_node').get('dropped_agents', '').split(',')
            ),
            timeout=30,
            interval=0.2,
            message='diagnostics reporting uav2 dropped',
        )
        assert probe.diagnostics('/fusion_node')['live_agents'].split(',') == ['uav1', 'uav3']

        runner.start_node('/uav2/perception_node')
        mark = len(probe.get('/rsdfm/fused_bev'))
        wait_for(lambda: set(drones) in _fused_agents_since(probe, mark), timeout=90, interval=0.2,
                 message='uav2 fused again after its restart')
        wait_for(
            lambda: probe.diagnostics('/fusion_node').get('live_agents', '').split(',') == drones,
            timeout=30,
            interval=0.2,
            message='diagnostics reporting uav2 live again',
        )
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(10)
        probe.close()
        runner.stop(timeout=20)


def test_skewed_clock_and_foreign_model_are_refused_counted_and_reported(
    tmp_path, rclpy_context, ros_env
):
    from diagnostic_msgs.msg import DiagnosticArray

    from rsdfm_msgs.msg import BevFeature, FusedBev
    from rsdfm_ros.qos import result_qos

    drones = ['uav1', 'uav2']
    bag = make_bag(tmp_path / 'bag', drones=2, frames=6, width=160, height=120)
    runner = _start(tmp_path, ros_env, drones)
    probe = Probe(rclpy_context, {'/rsdfm/fused_bev': FusedBev, '/diagnostics': DiagnosticArray})
    node = probe.node
    # Two misbehaving drones, made from uav1's real maps: one 2 s behind, one from another model.
    skewed = node.create_publisher(BevFeature, '/uav8/rsdfm/bev_feature', result_qos())
    foreign = node.create_publisher(BevFeature, '/uav9/rsdfm/bev_feature', result_qos())

    def forge(msg):
        stamp = msg.header.stamp
        msg.agent_id = 'uav8'
        msg.header.stamp.sec = stamp.sec - 2
        skewed.publish(msg)
        msg.header.stamp.sec = stamp.sec + 2
        msg.agent_id, msg.model_id = 'uav9', 'another-model'
        foreign.publish(msg)
    node.create_subscription(BevFeature, '/uav1/rsdfm/bev_feature', forge, result_qos())
    replay, stop, thread = _looping_replay(node, bag, drones)
    try:
        wait_for(
            lambda: (
                not runner.exited()
                and node.count_subscribers('/uav8/rsdfm/bev_feature') >= 1
                and node.count_subscribers('/uav9/rsdfm/bev_feature') >= 1
                and inputs_matched(replay, len(drones))
                # fusion_node found and reads all four drone topics: two real, two forged
                and probe.diagnostics('/fusion_node').get('inputs_matched') == '4/4'
            ),
            timeout=90,
            interval=0.2,
            message='graph up and the forged drones discovered',
        )
        thread.start()

        def refused():
            diag = probe.diagnostics('/fusion_node')
            return (
                int(diag.get('refused.stamp_skew', 0)) >= 3
                and int(diag.get('refused.model_id', 0)) >= 3
            )

        wait_for(
            refused,
            timeout=90,
            interval=0.2,
            message='skewed and foreign maps refused and counted',
        )
        recent = _fused_agents_since(probe, 0)[-3:]
        assert recent == [{'uav1', 'uav2'}] * 3, recent
        diag = probe.diagnostics('/fusion_node')
        assert 'uav8' not in diag['live_agents'] and 'uav9' not in diag['live_agents']
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(10)
        probe.close()
        runner.stop(timeout=20)
    log = (tmp_path / 'logs' / 'fusion_node.log').read_text()
    assert log.count('refusing input (stamp_skew)') == 1, log
    assert log.count('refusing input (model_id)') == 1, log


@pytest.mark.parametrize('pose_source, skewed, reason', [
    ('topic', 'uav1/camera/pose', 'no_pose'),        # PoseStamped 0.5 s off every image
    ('tf', 'tf', 'tf_extrapolation'),                 # /tf 0.5 s ahead: tf2 would extrapolate
])
def test_images_without_a_pose_in_tolerance_are_refused_and_counted(
    tmp_path, rclpy_context, ros_env, pose_source, skewed, reason
):
    from diagnostic_msgs.msg import DiagnosticArray

    from rsdfm_bringup.replay import BagReplay
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph
    from rsdfm_msgs.msg import BevFeature

    frames = 4
    bag = make_bag(tmp_path / 'bag', drones=1, frames=frames, width=64, height=48)
    runner = GraphRunner(
        fleet_graph(
            drones=1,
            parameters={
                'threads': 1,
                'pose_wait': 0.5,
                'image_qos': 'reliable',
                'pose_source': pose_source,
            },
        ),
        log_dir=tmp_path / 'logs',
        env=ros_env,
    )
    runner.start(['/uav1/perception_node'])
    probe = Probe(
        rclpy_context, {'/uav1/rsdfm/bev_feature': BevFeature, '/diagnostics': DiagnosticArray}
    )
    try:
        # every pose 0.5 s off its image: no pose within pose_tolerance (0.06 s) of any image
        replay = BagReplay(
            probe.node,
            bag,
            rate=1.0,
            topics=play_topics(['/uav1']),
            skew={skewed: 0.5},
            camera_qos_kind='reliable',
        )
        wait_for(lambda: not runner.exited()
                 and inputs_matched(replay, 1, pose_source),
                 timeout=90, interval=0.2, message='perception node up')
        replay.play(progress=False)
        wait_for(
            lambda: (
                probe.diagnostics('/uav1/perception_node').get(f'refused.{reason}') == str(frames)
            ),
            timeout=30,
            interval=0.2,
            message=f'all {frames} images refused for want of a pose ({reason})',
        )
        assert probe.diagnostics('/uav1/perception_node')['published'] == '0'
        assert probe.get('/uav1/rsdfm/bev_feature') == []
    finally:
        probe.close()
        runner.stop(timeout=20)
    assert (tmp_path / 'logs' / 'uav1.perception_node.log').read_text().count(
        f'refusing input ({reason})'
    ) == 1
