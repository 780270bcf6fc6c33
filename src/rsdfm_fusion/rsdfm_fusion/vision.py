"""Optional vision_msgs/Detection3DArray output, the type most ROS 2 perception consumers expect.

vision_msgs has no PyPI wheel: set-up builds it from source (or a ROS 2 distribution provides
it); where it is missing the detection node runs without this output and says so once.
"""
from __future__ import annotations

import importlib.util

from rsdfm_ros.conversions import object_to_detection
from rsdfm_ros.qos import result_qos


class VisionPublisher:
    """Publishes rsdfm boxes as vision_msgs/Detection3DArray.

    Class label and score go in as a hypothesis.
    """

    def __init__(self, node, topic: str) -> None:
        from vision_msgs.msg import Detection3DArray
        self._types = importlib.import_module('vision_msgs.msg')
        self.pub = node.create_publisher(Detection3DArray, topic, result_qos())

    def publish(self, header, objects) -> None:
        """Publish `objects` (poses and sizes as in rsdfm's Detection3D).

        Nothing is built while no one subscribes.
        """
        if self.pub.get_subscription_count() == 0:
            return
        T = self._types
        out = T.Detection3DArray(header=header)
        for o in objects:
            d = object_to_detection(o)
            det = T.Detection3D(header=header, id=str(o.track_id) if o.track_id else '')
            det.bbox.center = d.pose
            det.bbox.size = d.size
            hyp = T.ObjectHypothesisWithPose()
            hyp.hypothesis.class_id, hyp.hypothesis.score = o.label, float(o.score)
            hyp.pose.pose = d.pose
            det.results = [hyp]
            out.detections.append(det)
        self.pub.publish(out)


def vision_publisher(node, topic: str) -> VisionPublisher | None:
    """Return a VisionPublisher where vision_msgs is importable, else None (logged once)."""
    if importlib.util.find_spec('vision_msgs') is None:
        node.get_logger().info(f'vision_msgs not installed: {topic} is not published')
        return None
    return VisionPublisher(node, topic)
