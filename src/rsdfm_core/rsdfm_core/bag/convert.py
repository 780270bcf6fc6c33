"""Conversions between rosbags message objects and the core types (arrays, K, 4x4 poses, ObjectState).

Works with any rosbags typestore that knows sensor_msgs, geometry_msgs and rsdfm_msgs (see
typestore.make_typestore). The ROS nodes keep their own thin rclpy conversions.
"""
from __future__ import annotations

import numpy as np
from rosbags.typesys.store import Typestore

from ..geometry import pose_matrix, quat_to_yaw, rot_to_quat, yaw_to_quat
from ..types import LABELS, ObjectState
from .typestore import make_typestore

# encoding -> (numpy dtype, channels)
ENCODINGS = {'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'mono8': (np.uint8, 1), 'mono16': (np.uint16, 1),
             '16UC1': (np.uint16, 1), '32FC1': (np.float32, 1), '8UC3': (np.uint8, 3)}


def _ts(typestore: Typestore | None) -> Typestore:
    return typestore if typestore is not None else make_typestore()


def ns_to_stamp(ns: int, typestore: Typestore | None = None):
    T = _ts(typestore).types['builtin_interfaces/msg/Time']
    return T(sec=int(ns) // 1_000_000_000, nanosec=int(ns) % 1_000_000_000)


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def make_header(ns: int, frame_id: str, typestore: Typestore | None = None):
    ts = _ts(typestore)
    return ts.types['std_msgs/msg/Header'](stamp=ns_to_stamp(ns, ts), frame_id=frame_id)


def image_to_msg(array: np.ndarray, ns: int, frame_id: str, encoding: str | None = None,
                 typestore: Typestore | None = None):
    """sensor_msgs/Image from an (H, W, 3) uint8 RGB, (H, W) float32, uint16 or uint8 array."""
    a = np.ascontiguousarray(array)
    if encoding is None:
        encoding = {(np.dtype(np.uint8), 3): 'rgb8', (np.dtype(np.uint8), 2): 'mono8',
                    (np.dtype(np.uint16), 2): 'mono16', (np.dtype(np.float32), 2): '32FC1'}.get((a.dtype, a.ndim))
        if encoding is None:
            raise ValueError(f'no image encoding for an array of dtype {a.dtype} and shape {a.shape}')
    dtype, channels = ENCODINGS[encoding]
    if a.dtype != dtype or (a.ndim == 3) != (channels == 3):
        raise ValueError(f'array of dtype {a.dtype} and shape {a.shape} does not fit encoding {encoding}')
    a = a.astype(a.dtype.newbyteorder('<'), copy=False)
    ts = _ts(typestore)
    return ts.types['sensor_msgs/msg/Image'](
        header=make_header(ns, frame_id, ts), height=a.shape[0], width=a.shape[1], encoding=encoding,
        is_bigendian=0, step=a.shape[1] * channels * a.itemsize, data=np.frombuffer(a.tobytes(), np.uint8))


def msg_to_image(msg) -> np.ndarray:
    """Array of a sensor_msgs/Image: (H, W, 3) RGB for colour encodings (bgr8 is flipped), (H, W) otherwise."""
    if msg.encoding not in ENCODINGS:
        raise ValueError(f'unsupported image encoding {msg.encoding!r} (supported: {", ".join(ENCODINGS)})')
    dtype, channels = ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<')
    row = msg.width * channels * dt.itemsize
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ValueError(f'image data of {len(msg.data)} bytes with step {msg.step} is too short for '
                         f'{msg.width}x{msg.height} {msg.encoding}')
    raw = np.asarray(msg.data, np.uint8)[:msg.step * msg.height].reshape(msg.height, msg.step)[:, :row]
    a = np.ascontiguousarray(raw).view(dt).astype(dtype, copy=False)
    a = a.reshape(msg.height, msg.width, channels) if channels == 3 else a.reshape(msg.height, msg.width)
    return a[..., ::-1].copy() if msg.encoding == 'bgr8' else a


def camera_info_to_msg(K: np.ndarray, width: int, height: int, ns: int, frame_id: str,
                       typestore: Typestore | None = None):
    """CameraInfo of an undistorted pinhole: plumb_bob with zero D, R = I, P = [K | 0]."""
    ts = _ts(typestore)
    K = np.asarray(K, np.float64)
    P = np.zeros((3, 4))
    P[:, :3] = K
    roi = ts.types['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return ts.types['sensor_msgs/msg/CameraInfo'](
        header=make_header(ns, frame_id, ts), height=int(height), width=int(width), distortion_model='plumb_bob',
        d=np.zeros(5), k=K.reshape(9).copy(), r=np.eye(3).reshape(9), p=P.reshape(12), binning_x=0, binning_y=0,
        roi=roi)


def msg_to_K(msg) -> np.ndarray:
    """3x3 intrinsics of a CameraInfo; refuses an all-zero (uncalibrated) K."""
    K = np.asarray(msg.k, np.float64).reshape(3, 3)
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError('CameraInfo has no calibration (K[0,0] or K[1,1] is not positive)')
    return K


def pose_to_msg(T: np.ndarray, typestore: Typestore | None = None):
    """geometry_msgs/Pose of a 4x4 transform."""
    ts = _ts(typestore)
    q = rot_to_quat(np.asarray(T)[:3, :3])
    t = np.asarray(T, np.float64)[:3, 3]
    return ts.types['geometry_msgs/msg/Pose'](
        position=ts.types['geometry_msgs/msg/Point'](x=float(t[0]), y=float(t[1]), z=float(t[2])),
        orientation=ts.types['geometry_msgs/msg/Quaternion'](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))


def msg_to_matrix(pose) -> np.ndarray:
    """4x4 transform of a geometry_msgs/Pose."""
    p, q = pose.position, pose.orientation
    return pose_matrix((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


def pose_stamped_to_msg(T: np.ndarray, ns: int, frame_id: str = 'map', typestore: Typestore | None = None):
    ts = _ts(typestore)
    return ts.types['geometry_msgs/msg/PoseStamped'](header=make_header(ns, frame_id, ts), pose=pose_to_msg(T, ts))


def objects_to_msg(objects: list[ObjectState], ns: int, frame_id: str = 'map', typestore: Typestore | None = None):
    """rsdfm_msgs/Detection3DArray of boxes (ground truth or detections)."""
    ts = _ts(typestore)
    Det, V3 = ts.types['rsdfm_msgs/msg/Detection3D'], ts.types['geometry_msgs/msg/Vector3']
    dets = []
    for o in objects:
        if o.label not in LABELS:
            raise ValueError(f'object {o.track_id} has label {o.label!r}, expected one of {LABELS}')
        q = yaw_to_quat(o.yaw)
        pose = ts.types['geometry_msgs/msg/Pose'](
            position=ts.types['geometry_msgs/msg/Point'](x=float(o.x), y=float(o.y), z=float(o.z)),
            orientation=ts.types['geometry_msgs/msg/Quaternion'](x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))
        dets.append(Det(track_id=int(o.track_id), label=o.label, score=float(o.score), pose=pose,
                        size=V3(x=float(o.length), y=float(o.width), z=float(o.height)),
                        velocity=V3(x=float(o.vx), y=float(o.vy), z=0.0)))
    return ts.types['rsdfm_msgs/msg/Detection3DArray'](header=make_header(ns, frame_id, ts), detections=dets)


def msg_to_objects(msg) -> list[ObjectState]:
    """ObjectStates of a Detection3DArray (yaw from the orientation)."""
    out = []
    for d in msg.detections:
        p, q = d.pose.position, d.pose.orientation
        out.append(ObjectState(int(d.track_id), str(d.label), p.x, p.y, p.z, d.size.x, d.size.y, d.size.z,
                               quat_to_yaw((q.x, q.y, q.z, q.w)), d.velocity.x, d.velocity.y, float(d.score)))
    return out
