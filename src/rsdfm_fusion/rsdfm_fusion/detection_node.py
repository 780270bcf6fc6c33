"""detection_node: 3D boxes (car, truck, bus) with track ids from the fused fleet map.

Its tracker is the only one of the graph: tracked boxes carry their track id and the track's
velocity (rsdfm_core.model.trajectory.track_detections), and trajectory_node predicts paths for
exactly these boxes.

Publishes rsdfm/detections (rsdfm_msgs/Detection3DArray), rsdfm/detections/markers for rviz2,
and, where vision_msgs is importable (a real ROS 2 install), rsdfm/detections/vision. Stamps
are the capture stamps of the source images.
"""
from __future__ import annotations

from visualization_msgs.msg import MarkerArray

from rsdfm_core.model.trajectory import track_detections
from rsdfm_fusion.markers import detection_markers
from rsdfm_fusion.vision import vision_publisher
from rsdfm_msgs.msg import Detection3DArray
from rsdfm_ros.conversions import detections_to_cdr
from rsdfm_ros.fused_map_node import FusedMapNode
from rsdfm_ros.node_support import check, declare, run_node
from rsdfm_ros.qos import result_qos


class DetectionNode(FusedMapNode):

    def __init__(self, **options) -> None:
        super().__init__('detection_node', engine_parts=DetectionNode._heads, **options)
        from rsdfm_core.bag.typestore import make_typestore
        from rsdfm_core.model.runtime import TaskHeads
        from rsdfm_core.model.tracker import Tracker

        make_typestore()    # detections_to_cdr's types: 0.85 s once, at start, not at a first map

        threshold = declare(
            self,
            'score_threshold',
            0.05,
            'boxes below this score are not published (low, so consumers can compute AP '
            'and pick their own operating point)',
        )
        shown = declare(
            self,
            'track_threshold',
            0.3,
            'boxes from this score on are tracked and drawn as markers',
        )
        heat = declare(
            self,
            'heat_centres',
            False,
            "place each box's centre halfway between its regressed offset and where its "
            "heatmap peak's neighbours put it (AP@0.7 0.468 -> 0.501 on the held-out "
            'sequences, AP@0.5 kept; no other head runs)',
        )
        check(0.0 <= threshold <= 1.0, f'score_threshold must be in [0, 1], got {threshold}')
        check(0.0 <= shown <= 1.0, f'track_threshold must be in [0, 1], got {shown}')
        self.threshold, self.shown = float(threshold), float(shown)
        votes = bool(self.get_parameter('centre_votes').value)     # declared by _heads
        self.heads = TaskHeads(self.rt, score_threshold=self.threshold, centre_votes=votes,
                               heat_centres=bool(heat))
        self.tracker = Tracker(min_score=self.shown)
        self.pub = self.create_publisher(Detection3DArray, 'rsdfm/detections', result_qos())
        self.markers = self.create_publisher(MarkerArray, 'rsdfm/detections/markers', result_qos())
        self.vision = vision_publisher(self, 'rsdfm/detections/vision')
        self.start()

    def _heads(self) -> tuple[str, ...]:
        """Return the heads this node runs: the segmentation head too only with centre_votes."""
        votes = declare(
            self,
            'centre_votes',
            False,
            "refine each box's centre by the segmentation head's votes (AP@0.7 0.468 -> 0.493 "
            'on the held-out sequences, AP@0.5 kept; the segmentation head then runs here too)',
        )
        return ('det_head', 'seg_head') if votes else ('det_head',)

    def on_map(self, msg, fused, stamp_ns: int, started: float) -> None:
        objects = track_detections(self.tracker, stamp_ns, self.heads.detect(fused))
        # serialized straight from the boxes: building rclpy messages cost more than the head
        data = detections_to_cdr(msg.header, objects)
        self.pub.publish(data)
        # display outputs are built only while someone (rviz) subscribes: they cost more than
        # the detection head itself on a busy ground station
        if self.markers.get_subscription_count() > 0:
            confident = [o for o in objects if o.score >= self.shown]
            self.markers.publish(detection_markers(msg.header, confident))
        if self.vision is not None:
            self.vision.publish(msg.header, objects)
        self.diag.extra['detections_last'] = str(len(objects))
        self.diag.output(stamp_ns, started, len(data))


def main(args=None) -> int:
    return run_node(DetectionNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
