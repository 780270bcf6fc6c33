"""trajectory_node: tracked objects and their predicted paths (next 3 s at 0.5 s steps).

Publishes rsdfm/trajectories (rsdfm_msgs/TrajectoryArray) and rsdfm/trajectories/markers
(LINE_STRIPs for rviz2). It runs the detection head itself on the same fused map, so its
tracker sees the same boxes as detection_node and gives the same track ids.
"""
from __future__ import annotations

from rclpy.serialization import serialize_message
from visualization_msgs.msg import MarkerArray

from rsdfm_ros.conversions import trajectory_msg
from rsdfm_ros.fused_map_node import FusedMapNode
from rsdfm_fusion.markers import trajectory_markers
from rsdfm_ros.node_support import check, declare, run_node
from rsdfm_ros.qos import result_qos
from rsdfm_msgs.msg import TrajectoryArray


class TrajectoryNode(FusedMapNode):
    def __init__(self) -> None:
        super().__init__('trajectory_node')
        from rsdfm_core.model.runtime import TaskHeads, TrajectoryPredictor

        threshold = declare(self, 'score_threshold', 0.3, 'boxes below this score are not tracked')
        mode = declare(self, 'mode', 'learned', "'learned' (trajectory head) or 'cv' (constant velocity)")
        check(0.0 <= threshold <= 1.0, f'score_threshold must be in [0, 1], got {threshold}')
        check(mode in ('learned', 'cv'), f"mode must be 'learned' or 'cv', got {mode!r}")
        self.heads = TaskHeads(self.rt, score_threshold=float(threshold))
        self.predictor = TrajectoryPredictor(self.rt, mode=mode)
        self.step = float(self.rt.config['model']['future_dt'])
        self.pub = self.create_publisher(TrajectoryArray, 'rsdfm/trajectories', result_qos())
        self.markers = self.create_publisher(MarkerArray, 'rsdfm/trajectories/markers', result_qos())
        self.start()

    def on_map(self, msg, fused, stamp_ns: int, started: float) -> None:
        tracks = self.predictor.update(stamp_ns, fused, self.heads.detect(fused))
        out = TrajectoryArray(header=msg.header,
                              trajectories=[trajectory_msg(state, pts, self.step) for state, pts in tracks])
        self.pub.publish(out)
        self.markers.publish(trajectory_markers(msg.header, tracks))
        self.diag.extra['tracks_last'] = str(len(tracks))
        self.diag.output(stamp_ns, started, len(serialize_message(out)))


def main(args=None) -> int:
    return run_node(TrajectoryNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
