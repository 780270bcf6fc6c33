"""Readers of ROS message fields into core types: one set of rules for every message source.

rclpy messages (the nodes) and rosbags messages (bag I/O, recorded graph outputs) share field
names, so these functions read either without importing ROS: a stamp, a camera's K, an
image's pixels, a pose, a grid placement, boxes, a fused map. The builders differ per side
(rclpy classes in rsdfm_ros.conversions, a rosbags typestore in rsdfm_core.bag.convert); the
readers are written once, here, with the checks of rsdfm_core.validation.
"""
from __future__ import annotations

import cv2
import numpy as np

from rsdfm_core.camera import CameraModel, check_distortion, undistort
from rsdfm_core.geometry import BevGrid, pose_matrix, quat_to_yaw
from rsdfm_core.types import LABELS, ObjectState
from rsdfm_core.validation import (
    check_image,
    check_image_size,
    check_intrinsics,
    check_pose,
    FeatureFields,
    MAX_COMPRESSED_BYTES,
)

# sensor_msgs/Image encoding -> (numpy dtype, channels)
IMAGE_ENCODINGS = {'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4),
                   'bgra8': (np.uint8, 4), 'mono8': (np.uint8, 1), 'mono16': (np.uint16, 1),
                   '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1), '8UC3': (np.uint8, 3)}
# sensor_msgs/CompressedImage formats (image_transport writes e.g. 'rgb8; jpeg compressed bgr8')
COMPRESSED_FORMATS = ('jpeg', 'png')
# nav_msgs/OccupancyGrid cell values of the segmentation output
OCCUPIED, FREE, UNKNOWN = 100, 0, -1


class ConversionError(ValueError):
    """A message whose content cannot be used (encoding, shape, non-finite values).

    `reason` is the short code nodes count on /diagnostics (rsdfm_core.validation's codes where
    one applies).
    """

    def __init__(self, detail: str, reason: str = 'conversion') -> None:
        super().__init__(detail)
        self.reason = reason


def stamp_to_ns(stamp) -> int:
    """Nanoseconds of a builtin_interfaces/Time."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def quaternion(q) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a geometry_msgs/Quaternion."""
    return (float(q.x), float(q.y), float(q.z), float(q.w))


def position(p) -> tuple[float, float, float]:
    """(x, y, z) of a geometry_msgs/Point or Vector3."""
    return (float(p.x), float(p.y), float(p.z))


def pose_to_matrix(pose) -> np.ndarray:
    """Return the 4x4 transform of a geometry_msgs/Pose.

    Raises ConversionError unless it is finite with a unit quaternion.
    """
    p, q = position(pose.position), quaternion(pose.orientation)
    refusal = check_pose(p, q, 'pose')
    if refusal is not None:
        raise ConversionError(refusal.detail, refusal.reason)
    return pose_matrix(p, q)


def camera_K(msg) -> np.ndarray:
    """Return the 3x3 intrinsics of a sensor_msgs/CameraInfo.

    Raises ConversionError unless they are an invertible pinhole K.
    """
    refusal = check_intrinsics(msg.k)
    if refusal is not None:
        raise ConversionError(refusal.detail, refusal.reason)
    return np.asarray(msg.k, dtype=np.float64).reshape(3, 3)


def image_to_array(msg) -> np.ndarray:
    """Return the pixels of a sensor_msgs/Image.

    (H, W, 3) RGB for colour encodings (bgr8 flipped), (H, W) otherwise; row padding and byte
    order handled, the data copied once.
    """
    if msg.encoding not in IMAGE_ENCODINGS:
        raise ConversionError(f'image encoding {msg.encoding[:40]!r} is not supported '
                              f'(supported: {", ".join(IMAGE_ENCODINGS)})', 'image_encoding')
    dtype, channels = IMAGE_ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<')
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    row = w * channels * dt.itemsize
    if h == 0 or w == 0 or step < row or len(msg.data) < step * h:
        raise ConversionError(f'image {w}x{h} {msg.encoding} with step {step} does not fit its '
                              f'{len(msg.data)} data bytes', 'image_step')
    raw = np.frombuffer(memoryview(msg.data), np.uint8, count=step * h).reshape(h, step)[:, :row]
    a = np.ascontiguousarray(raw).view(dt).astype(dtype, copy=False)
    a = a.reshape(h, w, channels) if channels > 1 else a.reshape(h, w)
    if msg.encoding in ('bgr8', 'bgra8'):
        a = np.ascontiguousarray(a[..., 2::-1] if channels == 4 else a[..., ::-1])
    elif msg.encoding == 'rgba8':
        a = np.ascontiguousarray(a[..., :3])
    return a if a.flags.writeable else a.copy()      # a view of the message's buffer otherwise


def image_to_rgb(msg, info_size: tuple[int, int] | None = None) -> np.ndarray:
    """Return the (H, W, 3) uint8 RGB of a camera image (rgb8, bgr8, rgba8, bgra8 or mono8).

    The image first passes the camera-input check of rsdfm_core.validation (encoding, size,
    step, and the size CameraInfo gives as (width, height)).
    """
    refusal = check_image(msg.encoding, int(msg.width), int(msg.height), int(msg.step),
                          len(msg.data), info_size)
    if refusal is not None:
        raise ConversionError(refusal.detail, refusal.reason)
    a = image_to_array(msg)
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a


def compressed_format(text: str) -> str | None:
    """Return 'jpeg' or 'png' for a CompressedImage format.

    The format is e.g. 'jpeg', 'png' or 'rgb8; jpeg compressed bgr8'.
    """
    words = text.lower().replace(';', ' ').split()
    found = [f for f in COMPRESSED_FORMATS if f in words or (f == 'jpeg' and 'jpg' in words)]
    return found[0] if len(found) == 1 else None


def compressed_to_rgb(msg, info_size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a sensor_msgs/CompressedImage (JPEG or PNG, colour or grey)."""
    if compressed_format(msg.format) is None:
        raise ConversionError(f'compressed image format {msg.format[:60]!r} is not supported '
                              f'(use {" or ".join(COMPRESSED_FORMATS)})', 'image_format')
    if not 0 < len(msg.data) <= MAX_COMPRESSED_BYTES:
        raise ConversionError(f'compressed image has {len(msg.data)} bytes (expected 1 to '
                              f'{MAX_COMPRESSED_BYTES})', 'image_size')
    bgr = cv2.imdecode(np.frombuffer(memoryview(msg.data), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConversionError(f'compressed image ({msg.format[:40]}, {len(msg.data)} bytes) '
                              f'does not decode', 'image_decode')
    refusal = check_image_size(bgr.shape[1], bgr.shape[0], info_size)
    if refusal is not None:
        raise ConversionError(refusal.detail, refusal.reason)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def camera_image_to_rgb(msg, camera: CameraModel) -> np.ndarray:
    """Return the pinhole RGB image of camera.K that the model needs.

    It comes from a sensor_msgs/Image or CompressedImage taken through the camera's lens
    (decoded, size checked, undistorted).
    """
    size = (camera.width, camera.height)
    rgb = compressed_to_rgb(msg, size) if hasattr(msg, 'format') else image_to_rgb(msg, size)
    return undistort(rgb, camera)


def camera_model(msg) -> CameraModel:
    """Return the intrinsics, distortion and size of a sensor_msgs/CameraInfo.

    Raises ConversionError (reason 'camera_info') for a K that is not an invertible pinhole or
    a distortion that cannot be used.
    """
    K = camera_K(msg)
    D = tuple(float(d) for d in msg.d)
    problem = check_distortion(msg.distortion_model, D)
    if problem is not None:
        raise ConversionError(f'camera_info: {problem}', 'camera_info')
    return CameraModel(tuple(K.ravel()), D, msg.distortion_model, int(msg.width), int(msg.height))


def fields_to_grid(msg) -> BevGrid:
    """Return the BevGrid of a BevFeature or FusedBev; ConversionError for an empty grid."""
    o = msg.grid_origin
    if msg.rows == 0 or msg.cols == 0 or not (msg.resolution > 0):
        raise ConversionError(
            f'grid {msg.rows}x{msg.cols} at resolution {msg.resolution} is empty', 'grid_size'
        )
    return BevGrid(
        float(o.position.x),
        float(o.position.y),
        quat_to_yaw(quaternion(o.orientation)),
        float(msg.resolution),
        int(msg.rows),
        int(msg.cols),
    )


def feature_fields(msg) -> FeatureFields:
    """Return the plain fields of a BevFeature that rsdfm_core.validation checks.

    The payload is not copied.
    """
    c, g = msg.camera_pose, msg.grid_origin
    return FeatureFields(
        agent_id=msg.agent_id, stamp_ns=stamp_to_ns(msg.header.stamp),
        camera_position=position(c.position), camera_orientation=quaternion(c.orientation),
        grid_position=position(g.position), grid_orientation=quaternion(g.orientation),
        resolution=float(msg.resolution), rows=int(msg.rows), cols=int(msg.cols),
        channels=int(msg.channels), codec=msg.codec, payload=memoryview(msg.payload),
        raw_bytes=int(msg.raw_bytes))


def detection_to_object(d) -> ObjectState:
    """Return the ObjectState of an rsdfm_msgs/Detection3D (yaw from its orientation)."""
    if d.label not in LABELS:
        raise ConversionError(f'detection label {d.label[:40]!r} is not one of {LABELS}', 'label')
    p = d.pose.position
    return ObjectState(int(d.track_id), str(d.label), float(p.x), float(p.y), float(p.z),
                       float(d.size.x), float(d.size.y), float(d.size.z),
                       quat_to_yaw(quaternion(d.pose.orientation)),
                       float(d.velocity.x), float(d.velocity.y), float(d.score))


def detections_to_objects(msg) -> list[ObjectState]:
    """Return the ObjectStates of an rsdfm_msgs/Detection3DArray."""
    return [detection_to_object(d) for d in msg.detections]


def occupancy_to_mask(msg) -> np.ndarray:
    """(rows, cols) uint8 vehicle mask of the segmentation OccupancyGrid (cells == OCCUPIED)."""
    cells = np.frombuffer(memoryview(msg.data), dtype=np.int8)
    return (cells.reshape(int(msg.info.height), int(msg.info.width)) == OCCUPIED).astype(np.uint8)
