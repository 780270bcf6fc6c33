"""Builders of rosbags message objects from core types (arrays, K, 4x4 poses, ObjectState).

Works with any rosbags typestore that knows sensor_msgs, geometry_msgs and rsdfm_msgs (see
typestore.make_typestore). Reading messages back is rsdfm_core.messages, the same readers the
ROS nodes use.
"""
from __future__ import annotations

import cv2
import numpy as np
from rosbags.typesys.store import Typestore

from .typestore import make_typestore
from ..geometry import rot_to_quat, yaw_to_quat
from ..messages import IMAGE_ENCODINGS
from ..types import LABELS, ObjectState


def _ts(typestore: Typestore | None) -> Typestore:
    return typestore if typestore is not None else make_typestore()


def ns_to_stamp(ns: int, typestore: Typestore | None = None):
    T = _ts(typestore).types['builtin_interfaces/msg/Time']
    return T(sec=int(ns) // 1_000_000_000, nanosec=int(ns) % 1_000_000_000)


def make_header(ns: int, frame_id: str, typestore: Typestore | None = None):
    ts = _ts(typestore)
    return ts.types['std_msgs/msg/Header'](stamp=ns_to_stamp(ns, ts), frame_id=frame_id)


def image_to_msg(array: np.ndarray, ns: int, frame_id: str, encoding: str | None = None,
                 typestore: Typestore | None = None):
    """sensor_msgs/Image from an (H, W, 3) uint8 RGB, (H, W) float32, uint16 or uint8 array."""
    a = np.ascontiguousarray(array)
    if encoding is None:
        encoding = {
            (np.dtype(np.uint8), 3): 'rgb8',
            (np.dtype(np.uint8), 2): 'mono8',
            (np.dtype(np.uint16), 2): 'mono16',
            (np.dtype(np.float32), 2): '32FC1',
        }.get((a.dtype, a.ndim))
        if encoding is None:
            raise ValueError(
                f'no image encoding for an array of dtype {a.dtype} and shape {a.shape}'
            )
    dtype, channels = IMAGE_ENCODINGS[encoding]
    if a.dtype != dtype or (a.ndim == 3) != (channels == 3):
        raise ValueError(
            f'array of dtype {a.dtype} and shape {a.shape} does not fit encoding {encoding}'
        )
    a = a.astype(a.dtype.newbyteorder('<'), copy=False)
    ts = _ts(typestore)
    return ts.types['sensor_msgs/msg/Image'](
        header=make_header(ns, frame_id, ts),
        height=a.shape[0],
        width=a.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=a.shape[1] * channels * a.itemsize,
        data=np.frombuffer(a.tobytes(), np.uint8),
    )


def compressed_image_to_msg(rgb: np.ndarray, ns: int, frame_id: str, fmt: str = 'jpeg',
                            quality: int = 90, typestore: Typestore | None = None):
    """Return a sensor_msgs/CompressedImage (JPEG or PNG) of an (H, W, 3) uint8 RGB image.

    The format string is the one image_transport writes ('rgb8; jpeg compressed bgr8').
    """
    if fmt not in ('jpeg', 'png'):
        raise ValueError(f"compressed image format must be 'jpeg' or 'png', got {fmt!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == 'jpeg' else []
    ok, data = cv2.imencode(
        '.jpg' if fmt == 'jpeg' else '.png',
        cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2BGR),
        params,
    )
    if not ok:
        raise ValueError(f'OpenCV could not encode a {rgb.shape} image as {fmt}')
    ts = _ts(typestore)
    return ts.types['sensor_msgs/msg/CompressedImage'](
        header=make_header(ns, frame_id, ts), format=f'rgb8; {fmt} compressed bgr8',
        data=np.frombuffer(data.tobytes(), np.uint8))


def camera_info_to_msg(K: np.ndarray, width: int, height: int, ns: int, frame_id: str,
                       typestore: Typestore | None = None, distortion_model: str = 'plumb_bob',
                       D: tuple[float, ...] = ()):
    """Return the CameraInfo of a pinhole K with the given lens distortion (zero D by default).

    R = I, P = [K | 0].
    """
    ts = _ts(typestore)
    K = np.asarray(K, np.float64)
    D = np.asarray(D if len(D) else np.zeros(5), np.float64)
    P = np.zeros((3, 4))
    P[:, :3] = K
    roi = ts.types['sensor_msgs/msg/RegionOfInterest'](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return ts.types['sensor_msgs/msg/CameraInfo'](
        header=make_header(ns, frame_id, ts),
        height=int(height),
        width=int(width),
        distortion_model=distortion_model,
        d=D,
        k=K.reshape(9).copy(),
        r=np.eye(3).reshape(9),
        p=P.reshape(12),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )


def pose_to_msg(T: np.ndarray, typestore: Typestore | None = None):
    """geometry_msgs/Pose of a 4x4 transform."""
    ts = _ts(typestore)
    q = rot_to_quat(np.asarray(T)[:3, :3])
    t = np.asarray(T, np.float64)[:3, 3]
    return ts.types['geometry_msgs/msg/Pose'](
        position=ts.types['geometry_msgs/msg/Point'](x=float(t[0]), y=float(t[1]), z=float(t[2])),
        orientation=ts.types['geometry_msgs/msg/Quaternion'](
            x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])
        ),
    )


def transform_to_msg(T: np.ndarray, ns: int, parent: str, child: str,
                     typestore: Typestore | None = None):
    """Return the TransformStamped of the pose T of `child` in `parent` (REP-105 parent->child)."""
    ts = _ts(typestore)
    q = rot_to_quat(np.asarray(T)[:3, :3])
    t = np.asarray(T, np.float64)[:3, 3]
    V3, Q = ts.types['geometry_msgs/msg/Vector3'], ts.types['geometry_msgs/msg/Quaternion']
    return ts.types['geometry_msgs/msg/TransformStamped'](
        header=make_header(ns, parent, ts), child_frame_id=child,
        transform=ts.types['geometry_msgs/msg/Transform'](
            translation=V3(x=float(t[0]), y=float(t[1]), z=float(t[2])),
            rotation=Q(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3]))))


def tf_message(transforms: list, typestore: Typestore | None = None):
    """tf2_msgs/TFMessage of TransformStamped messages (for /tf and /tf_static)."""
    return _ts(typestore).types['tf2_msgs/msg/TFMessage'](transforms=list(transforms))


def pose_stamped_to_msg(
    T: np.ndarray, ns: int, frame_id: str = 'map', typestore: Typestore | None = None
):
    ts = _ts(typestore)
    return ts.types['geometry_msgs/msg/PoseStamped'](
        header=make_header(ns, frame_id, ts), pose=pose_to_msg(T, ts)
    )


def objects_to_msg(
    objects: list[ObjectState], ns: int, frame_id: str = 'map', typestore: Typestore | None = None
):
    """rsdfm_msgs/Detection3DArray of boxes (ground truth or detections)."""
    ts = _ts(typestore)
    Det, V3 = ts.types['rsdfm_msgs/msg/Detection3D'], ts.types['geometry_msgs/msg/Vector3']
    dets = []
    for o in objects:
        if o.label not in LABELS:
            raise ValueError(
                f'object {o.track_id} has label {o.label!r}, expected one of {LABELS}'
            )
        q = yaw_to_quat(o.yaw)
        pose = ts.types['geometry_msgs/msg/Pose'](
            position=ts.types['geometry_msgs/msg/Point'](x=float(o.x), y=float(o.y), z=float(o.z)),
            orientation=ts.types['geometry_msgs/msg/Quaternion'](
                x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])
            ),
        )
        dets.append(Det(track_id=int(o.track_id), label=o.label, score=float(o.score), pose=pose,
                        size=V3(x=float(o.length), y=float(o.width), z=float(o.height)),
                        velocity=V3(x=float(o.vx), y=float(o.vy), z=0.0)))
    return ts.types['rsdfm_msgs/msg/Detection3DArray'](
        header=make_header(ns, frame_id, ts), detections=dets
    )
