"""Camera messages to the pinhole RGB image the model needs.

Decoded by cv_bridge where a ROS 2 distribution provides it, by the project's own readers
(rsdfm_core.messages) otherwise.

Both decode the same encodings and formats to the same pixels (test/ros/test_camera_bridge.py
compares them where cv_bridge is importable); the size check against CameraInfo and the lens
undistortion are the core's in both cases, so refusals keep their reason codes.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from rsdfm_core.camera import CameraModel, undistort
from rsdfm_core.messages import camera_image_to_rgb, ConversionError
from rsdfm_core.validation import check_image_size

HAVE_CV_BRIDGE = importlib.util.find_spec('cv_bridge') is not None


def cv_bridge_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an Image or CompressedImage decoded by cv_bridge."""
    from cv_bridge import CvBridge, CvBridgeError  # optional: only with a ROS 2 distribution

    bridge = CvBridge()
    try:
        if hasattr(msg, 'format'):
            return bridge.compressed_imgmsg_to_cv2(msg, desired_encoding='rgb8')
        return bridge.imgmsg_to_cv2(msg, desired_encoding='rgb8')
    except (CvBridgeError, ValueError, TypeError) as exc:
        raise ConversionError(
            f'cv_bridge cannot decode the image: {exc}', 'image_decode'
        ) from None


def camera_rgb(msg, camera: CameraModel, use_cv_bridge: bool = HAVE_CV_BRIDGE) -> np.ndarray:
    """Return the pinhole RGB image of camera.K from a raw or compressed camera message."""
    if not use_cv_bridge:
        return camera_image_to_rgb(msg, camera)
    rgb = cv_bridge_rgb(msg)
    refusal = check_image_size(rgb.shape[1], rgb.shape[0], (camera.width, camera.height))
    if refusal is not None:
        raise ConversionError(refusal.detail, refusal.reason)
    return undistort(np.ascontiguousarray(rgb), camera)
