"""Topic names and message types of a simulated fleet bag (one namespace per drone)."""
from __future__ import annotations

import re

OBJECTS_TOPIC = '/ground_truth/objects'
OBJECTS_TYPE = 'rsdfm_msgs/msg/Detection3DArray'
IMAGE, INFO, POSE = 'camera/image_raw', 'camera/camera_info', 'camera/pose'
IMAGE_COMPRESSED = 'camera/image_raw/compressed'  # image_transport's name for the JPEG/PNG stream
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
TF, TF_STATIC, TF_TYPE = '/tf', '/tf_static', 'tf2_msgs/msg/TFMessage'
DEPTH, HEIGHT, INSTANCES = 'ground_truth/depth', 'ground_truth/height', 'ground_truth/instances'

DRONE_TOPICS = {IMAGE: 'sensor_msgs/msg/Image', INFO: 'sensor_msgs/msg/CameraInfo',
                POSE: 'geometry_msgs/msg/PoseStamped'}
DENSE_TOPICS = {
    DEPTH: 'sensor_msgs/msg/Image',
    HEIGHT: 'sensor_msgs/msg/Image',
    INSTANCES: 'sensor_msgs/msg/Image',
}

_DRONE_TOPIC = re.compile(r'^/(?P<agent>[A-Za-z_][A-Za-z0-9_]*)/(?P<leaf>.+)$')


def drone_topic(agent_id: str, leaf: str) -> str:
    return f'/{agent_id}/{leaf}'


def split_drone_topic(topic: str) -> tuple[str, str] | None:
    """('uav2', 'camera/image_raw') for '/uav2/camera/image_raw'; None for other topics."""
    m = _DRONE_TOPIC.match(topic)
    if not m or m['leaf'] not in {**DRONE_TOPICS, **DENSE_TOPICS, IMAGE_COMPRESSED: ''}:
        return None
    return m['agent'], m['leaf']


def camera_frame(agent_id: str) -> str:
    return f'{agent_id}/camera_optical_frame'


def body_frame(agent_id: str) -> str:
    """Return the drone's body frame (REP-105 base_link, x forward, z up), child of map on /tf."""
    return f'{agent_id}/base_link'


def agent_sort_key(agent_id: str) -> tuple:
    """Natural order: uav2 before uav10."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r'(\d+)', agent_id))
