"""trajectory_node (its own process, real DDS) pairs detections with fused maps by stamp.

It pairs rsdfm/detections with rsdfm/fused_bev by stamp, whichever comes first, and publishes one
trajectory per tracked detection with its track id; maps that find no detections, and unreadable
detections, are refused and counted on /diagnostics.
"""
from __future__ import annotations

import time

from graph_support import isolate_this_process, Probe
from helpers import wait_for

isolate_this_process()

STEP_NS = 100_000_000


def _fused(rt, stamp_ns: int):
    import numpy as np

    from rsdfm_core.model.runtime import fused_to_payload, FusedMap
    from rsdfm_msgs.msg import FusedBev
    from rsdfm_ros.conversions import bytes_to_uint8_array, grid_to_fields, ns_to_stamp

    g = rt.region
    f = FusedMap(np.zeros((rt.config['model']['fused_channels'], g.rows, g.cols), np.float16), g)
    msg = FusedBev()
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp_ns), 'map'
    msg.grid_origin, msg.resolution, msg.rows, msg.cols = grid_to_fields(g)
    msg.channels, msg.agents, msg.model_id = f.features.shape[0], ['uav1'], rt.model_id
    msg.payload = bytes_to_uint8_array(fused_to_payload(f))
    return msg


def _detections(stamp_ns: int, boxes: list[tuple[int, str]]):
    from rsdfm_core.types import ObjectState
    from rsdfm_msgs.msg import Detection3DArray
    from rsdfm_ros.conversions import ns_to_stamp, object_to_detection

    msg = Detection3DArray()
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp_ns), 'map'
    msg.detections = [object_to_detection(ObjectState(tid, label, 4.0 * k, -3.0, 0.75, 4.5, 1.9,
                                                      1.5, 0.0, 2.0, 0.0, 0.9))
                      for k, (tid, label) in enumerate(boxes)]
    return msg


def test_trajectories_follow_the_tracked_detections_and_unpaired_maps_are_counted(
        tmp_path, rclpy_context, ros_env):
    from diagnostic_msgs.msg import DiagnosticArray

    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph
    from rsdfm_core.model.runtime import Runtime
    from rsdfm_msgs.msg import Detection3DArray, FusedBev, TrajectoryArray
    from rsdfm_ros.conversions import stamp_to_ns
    from rsdfm_ros.qos import result_qos

    rt = Runtime.load(None, threads=1)
    graph = fleet_graph(namespaces=['uav1'], parameters={'threads': 1, 'pair_capacity': 2})
    runner = GraphRunner(graph, log_dir=tmp_path / 'logs', env=ros_env)
    runner.start(['/trajectory_node'])
    probe = Probe(rclpy_context, {'/rsdfm/trajectories': TrajectoryArray,
                                  '/diagnostics': DiagnosticArray})
    dets = probe.node.create_publisher(Detection3DArray, '/rsdfm/detections', result_qos())
    maps = probe.node.create_publisher(FusedBev, '/rsdfm/fused_bev', result_qos())

    def by_stamp():
        return {stamp_to_ns(m.header.stamp): m for m in probe.get('/rsdfm/trajectories')}

    def refused(reason: str) -> int:
        return int(probe.diagnostics('/trajectory_node').get(f'refused.{reason}', 0))
    try:
        def ready():
            assert not runner.exited(), f'node died; logs in {tmp_path / "logs"}'
            return (probe.diagnostics('/trajectory_node').get('inputs_matched') == '2/2'
                    and dets.get_subscription_count() >= 1 and maps.get_subscription_count() >= 1)
        wait_for(ready, timeout=90, interval=0.2, message='trajectory_node reading both inputs')
        t0 = time.time_ns()
        s1, s2 = t0, t0 + STEP_NS
        dets.publish(_detections(s1, [(7, 'car'), (0, 'truck'), (9, 'bus')]))
        maps.publish(_fused(rt, s1))
        maps.publish(_fused(rt, s2))
        dets.publish(_detections(s2, [(7, 'car')]))
        wait_for(lambda: {s1, s2} <= set(by_stamp()), timeout=60, interval=0.1,
                 message='trajectories of both paired stamps')
        got = by_stamp()
        assert sorted((t.track_id, t.label) for t in got[s1].trajectories) == [
            (7, 'car'),
            (9, 'bus'),
        ]
        assert [(t.track_id, len(t.points)) for t in got[s2].trajectories] == [(7, 6)]
        assert got[s1].trajectories[0].step.nanosec == 500_000_000

        lonely = [t0 + k * STEP_NS for k in (2, 3, 4)]           # no detections for these maps
        for s in lonely:
            maps.publish(_fused(rt, s))
        bad = _detections(t0 + 5 * STEP_NS, [(3, 'car')])
        bad.detections[0].label = 'tank'
        dets.publish(bad)
        wait_for(lambda: refused('unpaired_fused_map') >= 1 and refused('bad_detections') == 1,
                 timeout=30, interval=0.2, message='unpaired map and bad detections counted')
        assert not set(lonely) & set(by_stamp()), 'a map without detections gave trajectories'
    finally:
        probe.close()
        runner.stop(timeout=20)
