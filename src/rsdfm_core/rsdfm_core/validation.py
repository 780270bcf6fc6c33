"""Checks of untrusted input before use: BevFeature fields, camera images, CameraInfo, poses.

Anything on the DDS domain can publish to the rsdfm topics, radios corrupt, clocks drift. The
nodes call these checks first, on plain values, so a bad message is refused before any large
allocation or decoding, with a short reason code (counted per code on /diagnostics) and a
message naming what was wrong. ROS-free: tested and fuzzed with plain pytest.

Every check returns None for good input or a `Refusal(reason, detail)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import math
import re
from typing import Sequence

import numpy as np

from rsdfm_core.geometry import BevGrid, pose_matrix, quat_to_yaw
from rsdfm_core.model.payload import CODECS, PayloadError, read_header

QUAT_TOLERANCE = 1e-3           # | |q| - 1 | above this is not a rotation someone meant
MAX_COORDINATE = 1e6            # metres from the map origin; further is a broken pose, not a drone
_AGENT_ID = re.compile(r'^[A-Za-z0-9_./-]{1,64}$')


@dataclass(frozen=True)
class Refusal:
    """Why an input was refused: a short code for counters and a message for people."""

    reason: str
    detail: str


@dataclass(frozen=True)
class FeatureFields:
    """The fields of an rsdfm_msgs/BevFeature that decide whether it can be decoded and fused."""

    agent_id: str
    stamp_ns: int
    camera_position: Sequence[float]
    camera_orientation: Sequence[float]      # x, y, z, w
    grid_position: Sequence[float]
    grid_orientation: Sequence[float]
    resolution: float
    rows: int
    cols: int
    channels: int
    codec: str
    payload: bytes | memoryview
    raw_bytes: int = 0


@dataclass(frozen=True)
class FeatureLimits:
    """What a receiver accepts: sizes, the region the maps must touch, the stamp window."""

    region: BevGrid
    channels: int                           # the model's BEV channels
    max_cells: int = 512 * 512
    max_payload: int = 16 * 1024 * 1024
    region_margin: float = 64.0  # m a grid may lie outside the region and still count as near
    max_future_ns: int = 30 * 10**9         # stamp ahead of the receiver's clock
    max_age_ns: int = 300 * 10**9           # stamp behind the receiver's clock (0 = no limit)
    codecs: tuple[str, ...] = field(default=CODECS)


def check_pose(
    position: Sequence[float], orientation: Sequence[float], what: str
) -> Refusal | None:
    """Finite position within MAX_COORDINATE and a unit quaternion (x, y, z, w)."""
    p, q = tuple(position), tuple(orientation)
    if not all(math.isfinite(v) for v in p + q):
        return Refusal(
            'pose_not_finite', f'{what} has non-finite values (position {p}, quaternion {q})'
        )
    if max(abs(v) for v in p) > MAX_COORDINATE:
        return Refusal(
            'pose_out_of_range',
            f'{what} position {p} is more than {MAX_COORDINATE:g} m from the map origin',
        )
    norm = math.sqrt(sum(v * v for v in q))
    if abs(norm - 1.0) > QUAT_TOLERANCE:
        return Refusal('quaternion_not_unit', f'{what} quaternion {q} has norm {norm:.6g}, not 1')
    return None


def check_stamp(
    stamp_ns: int, now_ns: int, max_future_ns: int, max_age_ns: int, what: str
) -> Refusal | None:
    """Accept a capture stamp at most max_future ahead of `now_ns` and max_age behind it."""
    if stamp_ns <= 0:
        return Refusal('stamp_missing', f'{what} has no stamp ({stamp_ns} ns)')
    ahead = stamp_ns - now_ns
    if ahead > max_future_ns:
        return Refusal(
            'stamp_future',
            f'{what} is stamped {ahead / 1e9:.3f} s in the future '
            f"(max {max_future_ns / 1e9:g} s ahead of this node's clock)",
        )
    if max_age_ns and -ahead > max_age_ns:
        return Refusal('stamp_past', f'{what} is stamped {-ahead / 1e9:.3f} s in the past '
                                     f"(max age {max_age_ns / 1e9:g} s behind this node's clock)")
    return None


def grid_distance_to_region(grid: BevGrid, region: BevGrid) -> float:
    """Metres between the axis-aligned footprints of two grids (0 when they overlap)."""
    def box(g: BevGrid) -> np.ndarray:
        corners = np.array(
            [[0, 0, 1], [g.cols, 0, 1], [0, g.rows, 1], [g.cols, g.rows, 1]], dtype=np.float64
        )
        xy = corners @ g.grid_to_map()[:2].T
        return np.concatenate([xy.min(0), xy.max(0)])
    a, b = box(grid), box(region)
    dx = max(0.0, a[0] - b[2], b[0] - a[2])
    dy = max(0.0, a[1] - b[3], b[1] - a[3])
    return math.hypot(dx, dy)


def check_feature(
    f: FeatureFields, limits: FeatureLimits, now_ns: int | None = None
) -> Refusal | None:
    """Everything about one BevFeature that can be checked without decoding its payload.

    Order: identity, numbers, sizes, codec and payload length against the header (so nothing
    big is ever allocated), placement against the fusion region, then the stamp (if now_ns).
    """
    if not _AGENT_ID.match(f.agent_id or ''):
        return Refusal(
            'agent_id', f'agent_id {f.agent_id[:80]!r} is not 1-64 characters of [A-Za-z0-9_./-]'
        )
    who = f'map from {f.agent_id}'
    for what, pos, ori in (('camera_pose', f.camera_position, f.camera_orientation),
                           ('grid_origin', f.grid_position, f.grid_orientation)):
        bad = check_pose(pos, ori, f'{who}: {what}')
        if bad:
            return bad
    res = float(f.resolution)
    if not (math.isfinite(res) and 0.01 <= res <= 100.0):
        return Refusal('resolution', f'{who}: resolution {res} m is not in [0.01, 100]')
    rows, cols, channels = int(f.rows), int(f.cols), int(f.channels)
    if rows < 1 or cols < 1 or rows * cols > limits.max_cells:
        return Refusal(
            'grid_size', f'{who}: grid {rows}x{cols} is empty or over {limits.max_cells} cells'
        )
    if channels != limits.channels:
        return Refusal('channels', f'{who}: {channels} channels, the model has {limits.channels}')
    if f.codec not in limits.codecs:
        return Refusal(
            'codec', f'{who}: unknown codec {f.codec[:40]!r} (expected one of {limits.codecs})'
        )
    n = len(f.payload)
    if n > limits.max_payload:
        return Refusal(
            'payload_size',
            f'{who}: payload of {n} bytes is over the limit of {limits.max_payload}',
        )
    try:
        head = read_header(f.codec, f.payload)
    except PayloadError as exc:
        return Refusal('payload_header', f'{who}: {exc}')
    if (head.channels, head.rows, head.cols) != (channels, rows, cols):
        return Refusal(
            'payload_shape',
            f'{who}: payload header says {head.channels}x{head.rows}x{head.cols}, '
            f'the message {channels}x{rows}x{cols}',
        )
    if n != head.size:
        return Refusal(
            'payload_size', f'{who}: payload has {n} bytes, its header says {head.size}'
        )
    grid = BevGrid(
        float(f.grid_position[0]),
        float(f.grid_position[1]),
        quat_to_yaw(tuple(f.grid_orientation)),
        res,
        rows,
        cols,
    )
    dist = grid_distance_to_region(grid, limits.region)
    if dist > limits.region_margin:
        return Refusal(
            'grid_outside_region',
            f'{who}: grid lies {dist:.0f} m outside the fusion region '
            f'(margin {limits.region_margin:g} m)',
        )
    if now_ns is not None:
        return check_stamp(int(f.stamp_ns), now_ns, limits.max_future_ns, limits.max_age_ns, who)
    return None


# --- camera input of the perception node -------------------------------------------------------

# camera image encodings the perception node accepts -> bytes per pixel
IMAGE_ENCODINGS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}
MAX_IMAGE_SIDE = 8192
MAX_COMPRESSED_BYTES = 32 * 1024 * 1024


def check_image(encoding: str, width: int, height: int, step: int, data_len: int,
                info_size: tuple[int, int] | None = None) -> Refusal | None:
    """Accept a camera image in one of IMAGE_ENCODINGS whose step and data length fit its size.

    Its size must also be the one CameraInfo gives as (width, height).
    """
    if encoding not in IMAGE_ENCODINGS:
        return Refusal('image_encoding', f'image encoding {encoding[:40]!r} is not supported '
                                         f'(use one of {", ".join(IMAGE_ENCODINGS)})')
    too_big = check_image_size(width, height)
    if too_big is not None:
        return too_big
    row = IMAGE_ENCODINGS[encoding] * width
    if step < row or data_len != step * height:
        return Refusal(
            'image_step',
            f'image {width}x{height} {encoding} with step {step} needs '
            f'step >= {row} and {step * height} data bytes, has {data_len}',
        )
    return check_image_size(width, height, info_size)


def check_image_size(width: int, height: int,
                     info_size: tuple[int, int] | None = None) -> Refusal | None:
    """Accept an image at most MAX_IMAGE_SIDE a side, of the size CameraInfo gives (w, h)."""
    if not (1 <= width <= MAX_IMAGE_SIDE and 1 <= height <= MAX_IMAGE_SIDE):
        return Refusal('image_size', f'image {width}x{height} is empty or larger than '
                                     f'{MAX_IMAGE_SIDE} pixels a side')
    if info_size is not None and tuple(info_size) not in ((width, height), (0, 0)):
        return Refusal('image_size', f'image is {width}x{height} but camera_info says '
                                     f'{info_size[0]}x{info_size[1]}')
    return None


def check_intrinsics(K: Sequence[float]) -> Refusal | None:
    """Accept a finite, invertible pinhole K (3x3 row-major).

    That is fx, fy > 0, last row 0 0 1, well conditioned.
    """
    k = np.asarray(K, dtype=np.float64)
    if k.size != 9 or not np.isfinite(k).all():
        return Refusal('camera_info', f'camera_info K is not 9 finite numbers: {k.tolist()}')
    k = k.reshape(3, 3)
    if k[0, 0] <= 0 or k[1, 1] <= 0 or not np.allclose(k[2], (0, 0, 1)):
        return Refusal(
            'camera_info',
            f'camera_info K is not a pinhole matrix (fx, fy > 0, last row 0 0 1): {k.tolist()}',
        )
    if np.linalg.cond(k) > 1e8:
        return Refusal('camera_info', f'camera_info K is singular: {k.tolist()}')
    return None


def check_camera_pose(cam_to_map: np.ndarray, ground_z: float = 0.0, min_height: float = 1.0,
                      max_axis_z: float = -0.02) -> Refusal | None:
    """Accept a camera above the ground looking down.

    Its optical centre is at least min_height above ground_z, its optical axis (z of the optical
    frame) points below the horizon.
    """
    T = np.asarray(cam_to_map, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        return Refusal(
            'pose_not_finite', f'camera pose is not a finite 4x4 transform: {T.tolist()}'
        )
    height = T[2, 3] - ground_z
    if height < min_height:
        return Refusal('camera_under_ground', f'camera is {height:.2f} m above the ground '
                                              f'(needs at least {min_height:g} m)')
    axis_z = T[2, 2]
    if axis_z > max_axis_z:
        pitch = math.degrees(math.asin(max(-1.0, min(1.0, axis_z))))
        return Refusal('camera_looks_at_sky', f'camera looks {pitch:+.1f} deg above the horizon; '
                                              f'it must look down at the ground')
    return None


def pose_matrix_checked(
    position: Sequence[float], orientation: Sequence[float], what: str
) -> np.ndarray | Refusal:
    """4x4 pose from position and a unit quaternion, or the Refusal of check_pose."""
    bad = check_pose(position, orientation, what)
    if bad:
        return bad
    return pose_matrix(position, orientation)
