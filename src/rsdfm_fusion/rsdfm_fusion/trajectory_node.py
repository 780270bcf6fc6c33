"""trajectory_node: predicted paths (next 3 s at 0.5 s steps) of the objects detection_node tracks.

Subscribes to rsdfm/detections (detection_node's boxes with track ids and velocities) and
rsdfm/fused_bev, pairs them by header stamp, and publishes rsdfm/trajectories
(rsdfm_msgs/TrajectoryArray) and rsdfm/trajectories/markers (LINE_STRIPs for rviz2) for the
tracked detections only (track_id != 0), each with its detection's track id. detection_node's
tracker is the only one in the graph, so the two topics cannot disagree on ids. Messages that
find no partner, and detections that cannot be read, are counted on /diagnostics.
"""
from __future__ import annotations

from visualization_msgs.msg import MarkerArray

from rsdfm_core.model.trajectory import TrajectoryPredictor
from rsdfm_core.stamp_pairing import Eviction, StampPairing
from rsdfm_fusion.markers import trajectory_markers
from rsdfm_msgs.msg import Detection3DArray, TrajectoryArray
from rsdfm_ros.conversions import ConversionError, detection_to_object, stamp_to_ns, trajectory_msg
from rsdfm_ros.fused_map_node import FusedMapNode
from rsdfm_ros.node_support import check, declare, run_node
from rsdfm_ros.qos import result_qos

DETECTIONS, FUSED_MAP = 'detections', 'fused_map'


class TrajectoryNode(FusedMapNode):

    def __init__(self, **options) -> None:
        super().__init__('trajectory_node', engine_parts=('traj_head',), **options)
        mode = declare(self, 'mode', 'learned',
                       "'learned' (trajectory head) or 'cv' (constant velocity)")
        capacity = declare(self, 'pair_capacity', 10,
                           'messages of each topic that wait for their partner of the same stamp')
        max_age = declare(self, 'pair_max_age', 2.0,
                          'seconds (of stamp time) a message waits for its partner before it is '
                          'dropped and counted')
        check(mode in ('learned', 'cv'), f"mode must be 'learned' or 'cv', got {mode!r}")
        check(capacity >= 1, f'pair_capacity must be >= 1, got {capacity}')
        check(max_age > 0.0, f'pair_max_age must be > 0, got {max_age}')
        self.predictor = TrajectoryPredictor(self.rt, mode=mode)
        self.pairs = StampPairing((DETECTIONS, FUSED_MAP), capacity, int(max_age * 1e9))
        self.step = float(self.rt.config['model']['future_dt'])
        self.pub = self.create_publisher(TrajectoryArray, 'rsdfm/trajectories', result_qos())
        self.markers = self.create_publisher(MarkerArray, 'rsdfm/trajectories/markers',
                                             result_qos())
        self.create_subscription(
            Detection3DArray, 'rsdfm/detections',
            self.diag.counting_losses('rsdfm/detections', self.on_detections), result_qos())
        self.start()

    def on_detections(self, msg: Detection3DArray) -> None:
        started = self.diag.start()
        self.diag.received_input()
        try:
            objects = [detection_to_object(d) for d in msg.detections]
        except ConversionError as exc:
            self.diag.refuse('bad_detections', str(exc))
            return
        self.offer(DETECTIONS, stamp_to_ns(msg.header.stamp), objects, started)

    def on_map(self, msg, fused, stamp_ns: int, started: float) -> None:
        self.offer(FUSED_MAP, stamp_ns, (msg.header, fused), started)

    def offer(self, side: str, stamp_ns: int, item, started: float) -> None:
        """Wait for the partner of this stamp; predict once both the map and its boxes are in."""
        added = self.pairs.add(side, stamp_ns, item)
        for e in added.evicted:
            self.diag.refuse(e.code, eviction_text(e))
        if added.pair is None:
            return
        objects, (header, fused) = added.pair
        paths = self.predictor.predict(stamp_ns, fused, objects)
        out = TrajectoryArray(header=header, trajectories=[trajectory_msg(state, pts, self.step)
                                                           for state, pts in paths])
        sent = self.publish_counted(self.pub, out)
        if self.markers.get_subscription_count() > 0:      # for rviz: built only when shown
            self.markers.publish(trajectory_markers(header, paths))
        self.diag.extra['tracks_last'] = str(len(paths))
        self.diag.output(stamp_ns, started, sent)


def eviction_text(e: Eviction) -> str:
    """One line for the log: which message was dropped and why."""
    if e.reason == 'duplicate':
        return f'a second {e.side} message stamped {e.stamp_ns} ns replaced the first'
    return f'{e.side} stamped {e.stamp_ns} ns dropped: no partner with that stamp arrived in time'


def main(args=None) -> int:
    return run_node(TrajectoryNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
