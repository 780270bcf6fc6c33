"""How far a drone's map puts the ground from where it is, before and after alignment.

The figure behind the target "the corrections leave at most 0.3 m / 0.3 degree of error".
A drone that believes a wrong pose lifts each pixel's feature to where its believed ray meets the
ground, not to where the true ray does. Sampling the image on a grid gives pairs (true ground
point, believed ground point); the alignment's correction (a homography in the fusion region's
cells) moves the believed points. The misplacement of a map is the median distance of the moved
points from the true ones, and the turn that is left is the angle of the best rigid fit
between them (2-D Procrustes). Points are kept where the true ground lies in the region.
"""
from __future__ import annotations

import math

import numpy as np

from rsdfm_core.geometry import BevGrid, pixel_rays, ray_ground_depth

PIXEL_STEP = 16          # image sampled every 16 pixels: 1,200 points at 640x480
MIN_POINTS = 10


def ground_points(K: np.ndarray, cam_to_map: np.ndarray, u: np.ndarray,
                  v: np.ndarray) -> np.ndarray:
    """Return (N, 2) map x, y where each pixel's ray meets the ground (nan above the horizon)."""
    t = ray_ground_depth(K, cam_to_map, u, v)
    rays = pixel_rays(K, u, v) @ cam_to_map[:3, :3].T
    xy = cam_to_map[:2, 3] + rays[:, :2] * t[:, None]
    xy[~np.isfinite(t)] = np.nan
    return xy


def misplacement(K: np.ndarray, true_pose: np.ndarray, believed_pose: np.ndarray,
                 image_size: tuple[int, int], grid: BevGrid,
                 correction: np.ndarray | None = None) -> tuple[float, float] | None:
    """Return (median distance m, turn deg) of the drone's ground in the map against the truth.

    correction: 3x3 homography in grid's continuous (col, row) cells that the fusion side applied
    to the drone's map (None: nothing). None when fewer than MIN_POINTS of the image's ground
    points lie in the grid.
    """
    w, h = image_size
    uu, vv = np.meshgrid(np.arange(PIXEL_STEP / 2, w, PIXEL_STEP),
                         np.arange(PIXEL_STEP / 2, h, PIXEL_STEP))
    u, v = uu.ravel(), vv.ravel()
    truth, believed = ground_points(K, true_pose, u, v), ground_points(K, believed_pose, u, v)
    cells = grid.map_to_cells(np.nan_to_num(truth, nan=-1e9))
    keep = (np.isfinite(truth).all(1) & np.isfinite(believed).all(1)
            & (cells[:, 0] >= 0) & (cells[:, 0] < grid.cols)
            & (cells[:, 1] >= 0) & (cells[:, 1] < grid.rows))
    if int(keep.sum()) < MIN_POINTS:
        return None
    truth, believed = truth[keep], believed[keep]
    if correction is not None:
        c = grid.map_to_cells(believed)
        moved = np.c_[c, np.ones(len(c))] @ np.asarray(correction, dtype=np.float64).T
        moved = moved[:, :2] / moved[:, 2:3]
        believed = (np.c_[moved, np.ones(len(moved))] @ grid.grid_to_map().T)[:, :2]
    distance = float(np.median(np.hypot(*(believed - truth).T)))
    a, b = believed - believed.mean(0), truth - truth.mean(0)
    turn = math.degrees(math.atan2(float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()),
                                   float((a * b).sum())))
    return distance, abs(turn)


def summarise(pairs: list[tuple[float, float]]) -> dict:
    """Median and 90th percentile of the distances, median turn, over drone-frames."""
    if not pairs:
        return {'drone_frames': 0}
    d, t = np.array(pairs).T
    return {'drone_frames': len(pairs), 'median_m': float(np.median(d)),
            'p90_m': float(np.percentile(d, 90)), 'median_deg': float(np.median(t)),
            'p90_deg': float(np.percentile(t, 90))}
