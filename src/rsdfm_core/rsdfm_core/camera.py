"""Camera models as sensor_msgs/CameraInfo gives them: pinhole K plus lens distortion.

The model lifts features along pinhole rays, so a distorted image is first remapped to the
pinhole image of the same K (OpenCV's undistortion, the maps computed once per camera and
reused for every frame). The simulator goes the other way to write realistic bags: it renders
a pinhole image and distorts it with the same model. Supported distortion models are the two
of ROS's camera_calibration_parsers: `plumb_bob` (k1, k2, p1, p2, k3) and
`rational_polynomial` (k1, k2, p1, p2, k3, k4, k5, k6); an empty model or all-zero D is a
pinhole camera.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

# distortion model -> number of coefficients in D
DISTORTION_MODELS = {'plumb_bob': 5, 'rational_polynomial': 8}
# Mild wide-angle lenses, used by `rsdfm simulate --distortion`.
EXAMPLE_DISTORTION = {'plumb_bob': (-0.12, 0.05, 0.001, -0.0005, -0.01),
                      'rational_polynomial': (-0.12, 0.05, 0.001, -0.0005, -0.01, 0.02, 0.0, 0.0)}


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics (3x3, row-major as a tuple), distortion and image size of one camera."""

    K: tuple[float, ...]
    D: tuple[float, ...] = ()
    distortion_model: str = ''
    width: int = 0
    height: int = 0

    @property
    def matrix(self) -> np.ndarray:
        return np.asarray(self.K, dtype=np.float64).reshape(3, 3)

    @property
    def is_pinhole(self) -> bool:
        """No distortion to remove (empty model or all-zero coefficients)."""
        return not self.distortion_model or not any(self.D)


def check_distortion(model: str, D: tuple[float, ...]) -> str | None:
    """Why a CameraInfo's distortion cannot be used, or None."""
    if not model or not any(D):
        return None
    if model not in DISTORTION_MODELS:
        return (f'distortion model {model[:40]!r} is not supported '
                f'(use {" or ".join(DISTORTION_MODELS)}, or zero D)')
    if len(D) != DISTORTION_MODELS[model] or not np.isfinite(D).all():
        return (f'{model} needs {DISTORTION_MODELS[model]} finite coefficients in D, '
                f'got {len(D)}')
    return None


@lru_cache(maxsize=16)
def undistort_maps(camera: CameraModel) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps from the pinhole image of K to the distorted image (cached per camera)."""
    K = camera.matrix
    return cv2.initUndistortRectifyMap(K, np.asarray(camera.D, np.float64), np.eye(3), K,
                                       (camera.width, camera.height), cv2.CV_32FC1)


def undistort(image: np.ndarray, camera: CameraModel) -> np.ndarray:
    """Return the pinhole image (same K, same size) of an image taken through the camera's lens."""
    if camera.is_pinhole:
        return image
    if image.shape[1] != camera.width or image.shape[0] != camera.height:
        raise ValueError(f'image is {image.shape[1]}x{image.shape[0]}, the camera model '
                         f'{camera.width}x{camera.height}')
    map_x, map_y = undistort_maps(camera)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


@lru_cache(maxsize=16)
def distort_maps(camera: CameraModel) -> tuple[np.ndarray, np.ndarray]:
    """Return cv2.remap maps from the distorted image to the pinhole image, cached per camera.

    For each distorted pixel: where the lens took its light from (cv2.undistortPoints,
    iterative).
    """
    K = camera.matrix
    u, v = np.meshgrid(np.arange(camera.width, dtype=np.float64),
                       np.arange(camera.height, dtype=np.float64))
    pts = np.stack([u.ravel(), v.ravel()], 1)[:, None, :]
    ideal = cv2.undistortPoints(
        pts,
        K,
        np.asarray(camera.D, np.float64),
        P=K,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-6),
    )
    ideal = ideal.reshape(camera.height, camera.width, 2).astype(np.float32)
    return ideal[..., 0], ideal[..., 1]


def distort(image: np.ndarray, camera: CameraModel) -> np.ndarray:
    """Return the image a camera with this lens takes of the scene whose pinhole image is given."""
    if camera.is_pinhole:
        return image
    map_x, map_y = distort_maps(camera)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
