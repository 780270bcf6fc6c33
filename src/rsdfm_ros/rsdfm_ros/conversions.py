"""rclpy messages <-> rsdfm core types: the only place nodes translate between the two.

Pure functions, no running graph needed, so they are unit-tested directly. Byte arrays are
filled from buffers (array.array('B', bytes) is a memcpy), never element by element.
"""
from __future__ import annotations

import array

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from sensor_msgs.msg import CameraInfo, Image

from rsdfm_core.geometry import BevGrid, pose_matrix, quat_to_yaw, rot_to_quat, yaw_to_quat
from rsdfm_core.types import LABELS, ObjectState
from rsdfm_core.validation import FeatureFields
from rsdfm_msgs.msg import Detection3D, Trajectory


class ConversionError(ValueError):
    """A message whose content cannot be used (encoding, shape, non-finite values)."""


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns) // 1_000_000_000, nanosec=int(ns) % 1_000_000_000)


def bytes_to_uint8_array(data: bytes) -> array.array:
    """A uint8[] field value from bytes, without a Python loop."""
    return array.array('B', data)


def pose_to_matrix(pose: Pose) -> np.ndarray:
    """4x4 transform of a geometry_msgs/Pose; ConversionError for non-finite or zero quaternions."""
    q = (pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w)
    p = (pose.position.x, pose.position.y, pose.position.z)
    if not np.isfinite(q + p).all() or np.linalg.norm(q) < 1e-9:
        raise ConversionError(f'pose is not a valid transform (position {p}, quaternion {q})')
    return pose_matrix(p, q)


def matrix_to_pose(T: np.ndarray) -> Pose:
    q = rot_to_quat(T[:3, :3])
    return Pose(position=Point(x=float(T[0, 3]), y=float(T[1, 3]), z=float(T[2, 3])),
                orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))


def image_to_rgb(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an rgb8 or bgr8 sensor_msgs/Image (row padding handled)."""
    if msg.encoding not in ('rgb8', 'bgr8'):
        raise ConversionError(f'image encoding {msg.encoding!r} is not supported (use rgb8 or bgr8)')
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h == 0 or w == 0 or step < 3 * w or len(msg.data) < h * step:
        raise ConversionError(f'image {w}x{h} with step {step} does not fit its {len(msg.data)} data bytes')
    buf = np.frombuffer(msg.data, dtype=np.uint8, count=h * step).reshape(h, step)[:, :3 * w].reshape(h, w, 3)
    return np.ascontiguousarray(buf[..., ::-1] if msg.encoding == 'bgr8' else buf)


def rgb_to_image(rgb: np.ndarray, stamp_ns: int, frame_id: str) -> Image:
    msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding='rgb8', is_bigendian=0, step=3 * rgb.shape[1])
    msg.header.stamp, msg.header.frame_id = ns_to_stamp(stamp_ns), frame_id
    msg.data = bytes_to_uint8_array(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    return msg


def camera_info_to_K(msg: CameraInfo) -> np.ndarray:
    """3x3 intrinsics of a CameraInfo; ConversionError when K is unset or not a pinhole matrix."""
    K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1.0:
        raise ConversionError(f'camera_info K is not a pinhole matrix: {K.tolist()}')
    return K


def grid_to_fields(grid: BevGrid) -> tuple[Pose, float, int, int]:
    """(grid_origin pose, resolution, rows, cols) of BevFeature/FusedBev for a BevGrid."""
    q = yaw_to_quat(grid.yaw)
    origin = Pose(position=Point(x=float(grid.origin_x), y=float(grid.origin_y), z=0.0),
                  orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))
    return origin, float(grid.resolution), int(grid.rows), int(grid.cols)


def fields_to_grid(msg) -> BevGrid:
    """BevGrid of a BevFeature or FusedBev message; ConversionError for an empty or bad grid."""
    o = msg.grid_origin
    if msg.rows == 0 or msg.cols == 0 or not (msg.resolution > 0):
        raise ConversionError(f'grid {msg.rows}x{msg.cols} at resolution {msg.resolution} is empty')
    yaw = quat_to_yaw((o.orientation.x, o.orientation.y, o.orientation.z, o.orientation.w))
    return BevGrid(float(o.position.x), float(o.position.y), yaw, float(msg.resolution), int(msg.rows), int(msg.cols))


def feature_fields(msg) -> FeatureFields:
    """The plain fields of a BevFeature that rsdfm_core.validation checks (the payload is not copied)."""
    c, g = msg.camera_pose, msg.grid_origin
    return FeatureFields(
        agent_id=msg.agent_id, stamp_ns=stamp_to_ns(msg.header.stamp),
        camera_position=(c.position.x, c.position.y, c.position.z),
        camera_orientation=(c.orientation.x, c.orientation.y, c.orientation.z, c.orientation.w),
        grid_position=(g.position.x, g.position.y, g.position.z),
        grid_orientation=(g.orientation.x, g.orientation.y, g.orientation.z, g.orientation.w),
        resolution=float(msg.resolution), rows=int(msg.rows), cols=int(msg.cols), channels=int(msg.channels),
        codec=msg.codec, payload=memoryview(msg.payload), raw_bytes=int(msg.raw_bytes))


def encoded_to_feature(m, agent_id: str, stamp_ns: int, cam_to_map: np.ndarray, model_id: str) -> 'BevFeature':
    """The BevFeature message of one drone's EncodedMap (rsdfm_core.model.runtime), stamped with the image."""
    from rsdfm_msgs.msg import BevFeature

    out = BevFeature()
    out.header.stamp, out.header.frame_id = ns_to_stamp(stamp_ns), 'map'
    out.agent_id, out.camera_pose = agent_id, matrix_to_pose(cam_to_map)
    out.grid_origin, out.resolution, out.rows, out.cols = grid_to_fields(m.grid)
    out.channels, out.model_id, out.codec = int(m.channels), model_id, m.codec
    out.payload = bytes_to_uint8_array(m.payload)
    out.raw_bytes = int(m.raw_bytes)
    return out


def object_to_detection(o: ObjectState) -> Detection3D:
    q = yaw_to_quat(o.yaw)
    return Detection3D(
        track_id=int(o.track_id), label=o.label, score=float(o.score),
        pose=Pose(position=Point(x=float(o.x), y=float(o.y), z=float(o.z)),
                  orientation=Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))),
        size=Vector3(x=float(o.length), y=float(o.width), z=float(o.height)),
        velocity=Vector3(x=float(o.vx), y=float(o.vy), z=0.0))


def detection_to_object(d: Detection3D) -> ObjectState:
    if d.label not in LABELS:
        raise ConversionError(f'detection label {d.label!r} is not one of {LABELS}')
    o = d.pose.orientation
    return ObjectState(int(d.track_id), d.label, d.pose.position.x, d.pose.position.y, d.pose.position.z,
                       d.size.x, d.size.y, d.size.z, quat_to_yaw((o.x, o.y, o.z, o.w)),
                       d.velocity.x, d.velocity.y, float(d.score))


def trajectory_msg(state: ObjectState, points: np.ndarray, step_s: float) -> Trajectory:
    ns = int(round(step_s * 1e9))
    return Trajectory(track_id=int(state.track_id), label=state.label, score=float(state.score),
                      step=Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000),
                      points=[Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in points])
