"""Camera and ground-plane geometry shared by the renderer, the lifting and the fusion.

Everything is numpy, float64, and ROS-free. The ground is the plane z = ground_z of `map`.
Rays are parametrised with the optical-frame direction K^-1 [u, v, 1] (z component 1), so the
ray parameter t of a point equals its z-depth in the optical frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def quat_to_rot(q: np.ndarray | tuple) -> np.ndarray:
    """Turn an (x, y, z, w) quaternion (ROS order) into a 3x3 rotation matrix.

    The quaternion is normalised first.
    """
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def rot_to_quat(R: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix to an (x, y, z, w) quaternion with w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    tr = np.trace(R)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, 0.25 * s]
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = [0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = [(R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s, (R[1, 0] - R[0, 1]) / s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def yaw_to_quat(yaw: float) -> np.ndarray:
    """Rotation about map z by yaw radians, as (x, y, z, w)."""
    return np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])


def quat_to_yaw(q: np.ndarray | tuple) -> float:
    """Heading (rotation about z) of an (x, y, z, w) quaternion."""
    x, y, z, w = q
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def pose_matrix(position: np.ndarray | tuple, quat: np.ndarray | tuple) -> np.ndarray:
    """4x4 homogeneous transform from a position and an (x, y, z, w) quaternion."""
    T = np.eye(4)
    T[:3, :3] = quat_to_rot(quat)
    T[:3, 3] = position
    return T


def look_at_optical(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return the 4x4 pose of an optical frame at `position` looking at `target`.

    The image's 'down' points toward -z of map.

    Optical frame: z forward, x right, y down (REP-103 camera optical convention).
    """
    position = np.asarray(position, dtype=np.float64)
    z_axis = np.asarray(target, dtype=np.float64) - position
    z_axis /= np.linalg.norm(z_axis)
    x_axis = np.cross(z_axis, np.array([0.0, 0.0, 1.0]))
    if np.linalg.norm(x_axis) < 1e-9:  # looking straight down: pick map +x as image right
        x_axis = np.array([1.0, 0.0, 0.0])
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = x_axis, y_axis, z_axis, position
    return T


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Pinhole K for a square-pixel camera of the given horizontal field of view."""
    fx = (width / 2.0) / np.tan(np.radians(hfov_deg) / 2.0)
    return np.array([[fx, 0.0, width / 2.0], [0.0, fx, height / 2.0], [0.0, 0.0, 1.0]])


def pixel_rays(K: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Return optical-frame ray directions (..., 3) with z = 1 for pixel coordinates u, v.

    Pixel centres are at +0.5.
    """
    Kinv = np.linalg.inv(K)
    uv1 = np.stack([u, v, np.ones_like(u)], axis=-1).astype(np.float64)
    return uv1 @ Kinv.T


def ray_ground_depth(K: np.ndarray, cam_to_map: np.ndarray, u: np.ndarray, v: np.ndarray,
                     ground_z: float = 0.0) -> np.ndarray:
    """Return the analytic ground depth t_g of each pixel's ray.

    That is the z-depth where the ray meets the plane z = ground_z.

    Returns +inf where the ray does not go down to the ground (at or above the horizon).
    """
    d_cam = pixel_rays(K, u, v)
    d_map_z = d_cam @ cam_to_map[2, :3]
    c_z = cam_to_map[2, 3] - ground_z
    with np.errstate(divide='ignore', invalid='ignore'):
        t = -c_z / d_map_z
    return np.where(d_map_z < -1e-9, t, np.inf)


def project_points(
    K: np.ndarray, cam_to_map: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Project map points (N, 3) to pixels.

    Returns (uv (N, 2), z-depth (N,)); uv is nan behind the camera.
    """
    map_to_cam = np.linalg.inv(cam_to_map)
    p = np.asarray(points, dtype=np.float64) @ map_to_cam[:3, :3].T + map_to_cam[:3, 3]
    z = p[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        uvh = p @ np.asarray(K).T
        uv = uvh[:, :2] / uvh[:, 2:3]
    uv[z <= 1e-6] = np.nan
    return uv, z


@dataclass(frozen=True)
class BevGrid:
    """A metric BEV grid lying on the ground of `map`.

    origin_x, origin_y: map position of the corner of cell (row 0, col 0); yaw: rotation of the
    grid's column axis (+col) from map +x; rows grow along the grid's +y axis. Cell (r, c) has its
    centre at origin + R(yaw) @ ((c + 0.5) * res, (r + 0.5) * res).
    """

    origin_x: float
    origin_y: float
    yaw: float
    resolution: float
    rows: int
    cols: int

    @staticmethod
    def centred(cx: float, cy: float, size_x: float, size_y: float, resolution: float,
                yaw: float = 0.0) -> 'BevGrid':
        """Return a grid of the given metric size centred on (cx, cy)."""
        cols, rows = int(round(size_x / resolution)), int(round(size_y / resolution))
        c, s = np.cos(yaw), np.sin(yaw)
        hx, hy = cols * resolution / 2, rows * resolution / 2
        return BevGrid(cx - (c * hx - s * hy), cy - (s * hx + c * hy), yaw, resolution, rows, cols)

    def grid_to_map(self) -> np.ndarray:
        """Return the 3x3 affine from continuous cell coordinates to map.

        It takes (col, row, 1), corner-based, to (x, y, 1).
        """
        c, s, r = np.cos(self.yaw), np.sin(self.yaw), self.resolution
        return np.array(
            [[c * r, -s * r, self.origin_x], [s * r, c * r, self.origin_y], [0, 0, 1.0]]
        )

    def map_to_cells(self, xy: np.ndarray) -> np.ndarray:
        """Map points (N, 2) to continuous (col, row) coordinates.

        The integer part is the cell index.
        """
        A = np.linalg.inv(self.grid_to_map())
        xy = np.asarray(xy, dtype=np.float64)
        return xy @ A[:2, :2].T + A[:2, 2]

    def cell_centres(self) -> np.ndarray:
        """(rows, cols, 2) map coordinates of the cell centres."""
        cc, rr = np.meshgrid(np.arange(self.cols) + 0.5, np.arange(self.rows) + 0.5)
        A = self.grid_to_map()
        return np.stack(
            [A[0, 0] * cc + A[0, 1] * rr + A[0, 2], A[1, 0] * cc + A[1, 1] * rr + A[1, 2]], -1
        )


def level_body_pose(cam_to_map: np.ndarray) -> np.ndarray:
    """Return the 4x4 pose in map of a level body frame (REP-103 x forward, z up) at the camera.

    It heads along the optical axis seen from above (along the image's up direction for a nadir
    view).
    """
    R = np.asarray(cam_to_map, dtype=np.float64)[:3, :3]
    forward = R[:2, 2] if np.hypot(*R[:2, 2]) > 0.1 else -R[:2, 1]
    yaw = float(np.arctan2(forward[1], forward[0]))
    T = np.eye(4)
    T[:3, :3] = quat_to_rot(yaw_to_quat(yaw))
    T[:3, 3] = np.asarray(cam_to_map, dtype=np.float64)[:3, 3]
    return T
