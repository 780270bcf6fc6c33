"""Camera input as drones send it: lens distortion, compressed images, more encodings (no ROS)."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from rsdfm_core import messages
from rsdfm_core.camera import CameraModel, distort, EXAMPLE_DISTORTION, undistort
from rsdfm_core.geometry import intrinsics

W, H = 320, 240
K = intrinsics(W, H, 70.0)


def camera(model: str) -> CameraModel:
    return CameraModel(tuple(K.ravel()), EXAMPLE_DISTORTION[model], model, W, H)


def dot_image(u: float, v: float) -> np.ndarray:
    """Return a black image with a small bright disc at (u, v)."""
    img = np.zeros((H, W, 3), np.uint8)
    cv2.circle(img, (int(round(u)), int(round(v))), 2, (255, 255, 255), -1)
    return img


def centroid(img: np.ndarray) -> np.ndarray:
    g = img[..., 0].astype(np.float64)
    v, u = np.mgrid[0:H, 0:W]
    return np.array([(g * u).sum() / g.sum(), (g * v).sum() / g.sum()])


@pytest.mark.parametrize('model', sorted(EXAMPLE_DISTORTION))
def test_distortion_moves_a_point_where_opencv_projects_it(model: str) -> None:
    """The lens moves a scene point's pixel where OpenCV projects it; undistorting brings it back.

    Pinhole pixel K X; the lens moves it to cv2.projectPoints' pixel; undistorting that image
    brings it back to K X.
    """
    cam = camera(model)
    X = np.array([[0.55, -0.35, 1.0]])                  # far off-centre: distortion is large
    pinhole = (K @ X.T).T[0, :2]
    lens, _ = cv2.projectPoints(X, np.zeros(3), np.zeros(3), K, np.asarray(cam.D))
    lens = lens.reshape(2)
    assert np.linalg.norm(lens - pinhole) > 3.0, 'test point not distorted enough to tell'
    distorted = distort(dot_image(*pinhole), cam)
    assert np.linalg.norm(centroid(distorted) - lens) < 0.6
    assert np.linalg.norm(centroid(undistort(distorted, cam)) - pinhole) < 0.6


def test_pinhole_camera_is_left_alone() -> None:
    img = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    cam = CameraModel(tuple(K.ravel()), (0.0,) * 5, 'plumb_bob', W, H)
    assert undistort(img, cam) is img and distort(img, cam) is img
    with pytest.raises(ValueError, match='camera model 320x240'):
        undistort(img[:100], camera('plumb_bob'))


def info_msg(model: str, D) -> SimpleNamespace:
    return SimpleNamespace(k=K.ravel(), d=list(D), distortion_model=model, width=W, height=H)


def test_camera_info_distortion_is_read_or_refused() -> None:
    cam = messages.camera_model(
        info_msg('rational_polynomial', EXAMPLE_DISTORTION['rational_polynomial'])
    )
    assert cam.D == EXAMPLE_DISTORTION['rational_polynomial'] and not cam.is_pinhole
    assert messages.camera_model(info_msg('equidistant', [0, 0, 0, 0])).is_pinhole
    for model, D, text in (('equidistant', [0.1, 0, 0, 0], 'not supported'),
                           ('plumb_bob', [0.1, 0.2], 'needs 5 finite'),
                           ('plumb_bob', [0.1, 0, 0, 0, float('nan')], 'needs 5 finite')):
        with pytest.raises(messages.ConversionError, match=text) as err:
            messages.camera_model(info_msg(model, D))
        assert err.value.reason == 'camera_info'


def compressed(rgb: np.ndarray, fmt: str) -> SimpleNamespace:
    ok, data = cv2.imencode(
        '.jpg' if fmt == 'jpeg' else '.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    )
    assert ok
    return SimpleNamespace(format=f'rgb8; {fmt} compressed bgr8', data=data.tobytes())


def test_compressed_images_decode_to_rgb() -> None:
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, W)[None].astype(np.uint8)  # red ramp, green and blue zero
    rgb[40:80, 50:90] = (10, 200, 30)
    assert np.array_equal(messages.compressed_to_rgb(compressed(rgb, 'png')), rgb)
    jpeg = messages.compressed_to_rgb(compressed(rgb, 'jpeg'), (W, H))
    assert jpeg.shape == rgb.shape and np.abs(jpeg.astype(int) - rgb).mean() < 3.0
    assert jpeg[60, 70, 1] > 150 > jpeg[60, 70, 0]                       # channel order kept


@pytest.mark.parametrize('fmt, data, reason', [
    ('theora', b'\x00' * 10, 'image_format'),
    ('jpeg', b'', 'image_size'),
    ('jpeg', b'not a jpeg at all', 'image_decode'),
])
def test_bad_compressed_images_are_refused_with_a_reason(fmt, data, reason) -> None:
    with pytest.raises(messages.ConversionError) as err:
        messages.compressed_to_rgb(SimpleNamespace(format=fmt, data=data))
    assert err.value.reason == reason


def test_compressed_image_of_the_wrong_size_is_refused() -> None:
    msg = compressed(np.zeros((H, W, 3), np.uint8), 'png')
    with pytest.raises(messages.ConversionError, match='camera_info says 640x480') as err:
        messages.compressed_to_rgb(msg, (640, 480))
    assert err.value.reason == 'image_size'


@pytest.mark.parametrize('encoding, channels', [('rgba8', 4), ('bgra8', 4), ('mono8', 1),
                                                ('bgr8', 3), ('rgb8', 3)])
def test_camera_encodings_become_rgb(encoding: str, channels: int) -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, (5, 7, 3), dtype=np.uint8)
    if encoding == 'mono8':
        rgb[:] = rgb[..., :1]
    pixels = {'rgba8': np.concatenate([rgb, np.full((5, 7, 1), 9, np.uint8)], 2),
              'bgra8': np.concatenate([rgb[..., ::-1], np.full((5, 7, 1), 9, np.uint8)], 2),
              'mono8': rgb[..., 0], 'bgr8': rgb[..., ::-1], 'rgb8': rgb}[encoding]
    step = 7 * channels + 2                                                  # padded rows
    data = np.zeros((5, step), np.uint8)
    data[:, :7 * channels] = np.ascontiguousarray(pixels).reshape(5, -1)
    msg = SimpleNamespace(encoding=encoding, width=7, height=5, step=step, is_bigendian=0,
                          data=data.tobytes())
    assert np.array_equal(messages.image_to_rgb(msg), rgb)
