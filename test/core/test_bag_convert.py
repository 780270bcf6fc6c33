"""Bag message builders (rosbags message objects) read back with rsdfm_core.messages' readers."""
from __future__ import annotations

import numpy as np
import pytest

from rsdfm_core import messages
from rsdfm_core.bag import convert, make_typestore
from rsdfm_core.geometry import intrinsics, look_at_optical
from rsdfm_core.types import ObjectState

NS = 1_700_000_123_456_789_000


def cdr_round_trip(msg, msgtype):
    ts = make_typestore()
    return ts.deserialize_cdr(ts.serialize_cdr(msg, msgtype), msgtype)


@pytest.mark.parametrize('array', [
    np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3),
    np.linspace(0, 9, 20, dtype=np.float32).reshape(4, 5),
    np.array([[0, 1, 65535], [7, 300, 2]], dtype=np.uint16),
])
def test_images_survive_cdr(array):
    msg = cdr_round_trip(
        convert.image_to_msg(array, NS, 'uav1/camera_optical_frame'), 'sensor_msgs/msg/Image'
    )
    assert messages.stamp_to_ns(msg.header.stamp) == NS
    back = messages.image_to_array(msg)
    assert back.dtype == array.dtype and np.array_equal(back, array)


def test_bgr8_with_row_padding_comes_back_as_rgb():
    rgb = np.random.default_rng(0).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    msg = convert.image_to_msg(rgb[..., ::-1].copy(), NS, 'cam', encoding='bgr8')
    padded = np.zeros((3, msg.step + 4), np.uint8)
    padded[:, :msg.step] = np.asarray(msg.data).reshape(3, msg.step)
    msg.step, msg.data = msg.step + 4, padded.reshape(-1)
    assert np.array_equal(messages.image_to_array(msg), rgb)


def test_bad_image_input_is_named():
    with pytest.raises(ValueError, match='dtype float64'):
        convert.image_to_msg(np.zeros((2, 2)), NS, 'cam')
    msg = convert.image_to_msg(np.zeros((2, 2), np.uint8), NS, 'cam')
    msg.encoding = 'yuv422'
    with pytest.raises(ValueError, match='yuv422'):
        messages.image_to_array(msg)


def test_camera_info_is_consistent_pinhole():
    K = intrinsics(640, 480, 60.0)
    msg = cdr_round_trip(convert.camera_info_to_msg(K, 640, 480, NS, 'uav1/camera_optical_frame'),
                         'sensor_msgs/msg/CameraInfo')
    assert np.array_equal(messages.camera_K(msg), K)
    P = np.asarray(msg.p).reshape(3, 4)
    assert np.array_equal(P[:, :3], K) and not P[:, 3].any()
    assert np.array_equal(np.asarray(msg.r).reshape(3, 3), np.eye(3))
    assert msg.distortion_model == 'plumb_bob' and not np.any(msg.d)
    assert (msg.width, msg.height, msg.header.frame_id) == (640, 480, 'uav1/camera_optical_frame')


def test_pose_stamped_round_trips():
    T = look_at_optical(np.array([-40.0, 25.0, 80.0]), np.array([10.0, -5.0, 0.0]))
    msg = cdr_round_trip(convert.pose_stamped_to_msg(T, NS), 'geometry_msgs/msg/PoseStamped')
    assert msg.header.frame_id == 'map'
    np.testing.assert_allclose(messages.pose_to_matrix(msg.pose), T, atol=1e-12)


def test_objects_round_trip_and_bad_label_is_named():
    objs = [ObjectState(3, 'bus', 1.5, -2.0, 1.6, 12.0, 2.6, 3.2, 2.5, 4.0, -1.0),
            ObjectState(9, 'car', 0.0, 0.0, 0.75, 4.5, 1.9, 1.5, -3.0, score=0.25)]
    msg = cdr_round_trip(convert.objects_to_msg(objs, NS), 'rsdfm_msgs/msg/Detection3DArray')
    back = messages.detections_to_objects(msg)
    for a, b in zip(objs, back):
        assert (
            a.track_id,
            a.label,
            a.x,
            a.y,
            a.z,
            a.length,
            a.width,
            a.height,
            a.vx,
            a.vy,
            a.score,
        ) == (b.track_id, b.label, b.x, b.y, b.z, b.length, b.width, b.height, b.vx, b.vy, b.score)
        assert b.yaw == pytest.approx(a.yaw, abs=1e-12)
    with pytest.raises(ValueError, match='van'):
        convert.objects_to_msg([ObjectState(1, 'van', 0, 0, 0, 1, 1, 1, 0)], NS)
