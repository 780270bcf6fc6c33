"""cv_bridge and the project's own readers decode camera messages to the same pixels.

That is checked where a ROS 2 distribution provides cv_bridge (the wheels used here do not);
the project's path is what the perception node uses otherwise.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from rsdfm_core.camera import CameraModel
from rsdfm_core.geometry import intrinsics

W, H = 64, 48


def messages_of(rgb: np.ndarray) -> list:
    from sensor_msgs.msg import CompressedImage, Image

    from rsdfm_ros.conversions import bytes_to_uint8_array, rgb_to_image
    out = [rgb_to_image(rgb, 5, 'cam')]
    bgr = rgb_to_image(rgb[..., ::-1].copy(), 5, 'cam')
    bgr.encoding = 'bgr8'
    out.append(bgr)
    out.append(Image(height=H, width=W, encoding='mono8', step=W,
                     data=bytes_to_uint8_array(np.ascontiguousarray(rgb[..., 0]).tobytes())))
    ok, png = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out.append(
        CompressedImage(
            format='rgb8; png compressed bgr8', data=bytes_to_uint8_array(png.tobytes())
        )
    )
    return out


def test_project_readers_decode_every_camera_message() -> None:
    from rsdfm_ros.camera_bridge import camera_rgb

    rgb = np.random.default_rng(2).integers(0, 255, (H, W, 3), dtype=np.uint8)
    camera = CameraModel(tuple(intrinsics(W, H, 60.0).ravel()), (), '', W, H)
    raw, bgr, mono, png = (camera_rgb(m, camera, use_cv_bridge=False) for m in messages_of(rgb))
    assert np.array_equal(raw, rgb) and np.array_equal(bgr, rgb) and np.array_equal(png, rgb)
    assert np.array_equal(mono, np.repeat(rgb[..., :1], 3, axis=2))


def test_cv_bridge_and_project_readers_agree() -> None:
    from rsdfm_ros.camera_bridge import camera_rgb, HAVE_CV_BRIDGE
    if not HAVE_CV_BRIDGE:
        pytest.skip('cv_bridge is not importable here (no ROS 2 distribution; it has no wheel)')
    rgb = np.random.default_rng(3).integers(0, 255, (H, W, 3), dtype=np.uint8)
    camera = CameraModel(tuple(intrinsics(W, H, 60.0).ravel()), (), '', W, H)
    for msg in messages_of(rgb):
        assert np.array_equal(camera_rgb(msg, camera, use_cv_bridge=True),
                              camera_rgb(msg, camera, use_cv_bridge=False)), msg.__class__.__name__
