"""Height and depth of what each pixel sees, from the labelled boxes alone.

Real drones give images, intrinsics, poses and boxes, but no dense depth or height images. The
ground prior's height supervision then comes from the boxes: a pixel whose ray enters a box
first sees that box at the height where the ray enters it; any other pixel sees the ground
(height 0). Unlabelled things (buildings, trees) are counted as ground, which is the price of
box-only labels (TRAINING.md measures it).
"""
from __future__ import annotations

import numpy as np

from rsdfm_core.geometry import pixel_rays
from rsdfm_core.types import ObjectState


def ray_box_entry(origin: np.ndarray, dirs: np.ndarray, objects: list[ObjectState]) -> np.ndarray:
    """Return the ray parameter t (>= 0) where each ray first enters some box (inf if none).

    origin: (3,) in map; dirs: (P, 3) in map. Boxes are oriented by yaw, upright (slab method
    in each box's own frame).
    """
    best = np.full(len(dirs), np.inf)
    for o in objects:
        c, s = np.cos(o.yaw), np.sin(o.yaw)
        rot = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])    # map -> box axes
        p = rot @ (origin - np.array([o.x, o.y, o.z]))
        d = dirs @ rot.T
        half = np.array([o.length, o.width, o.height]) / 2.0
        with np.errstate(divide='ignore', invalid='ignore'):
            t1 = (-half - p) / d
            t2 = (half - p) / d
        # A ray parallel to a slab is inside it for every t, or never.
        parallel = np.abs(d) < 1e-12
        inside = np.abs(p) <= half
        lo = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
        hi = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
        t_in, t_out = lo.max(1), hi.min(1)
        hit = (t_in <= t_out) & (t_out > 0)
        best = np.where(hit, np.minimum(best, np.maximum(t_in, 0.0)), best)
    return best


def box_height_depth(K: np.ndarray, cam_to_map: np.ndarray, objects: list[ObjectState],
                     image_shape: tuple[int, int], stride: int,
                     ground_z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Return (height, z-depth) at the centre pixel of each stride x stride block.

    Both are (H // stride, W // stride) float32, sampled where `bin_targets` samples a dense
    map; inf where the ray meets neither a box nor the ground (the sky).
    """
    h, w = image_shape
    rows, cols = np.arange(h // stride), np.arange(w // stride)
    v, u = np.meshgrid(rows * stride + stride // 2 + 0.5, cols * stride + stride // 2 + 0.5,
                       indexing='ij')
    d_cam = pixel_rays(K, u, v).reshape(-1, 3)                     # z = 1: t is z-depth
    pose = np.asarray(cam_to_map, dtype=np.float64)
    d_map = d_cam @ pose[:3, :3].T
    origin = pose[:3, 3]
    with np.errstate(divide='ignore', invalid='ignore'):
        t_ground = np.where(d_map[:, 2] < -1e-9, (ground_z - origin[2]) / d_map[:, 2], np.inf)
    t_box = ray_box_entry(origin, d_map, objects)
    t = np.minimum(t_ground, t_box)
    height = np.where(t_box < t_ground, origin[2] + t * d_map[:, 2] - ground_z, 0.0)
    height = np.where(np.isfinite(t), np.maximum(height, 0.0), np.inf)
    shape = (len(rows), len(cols))
    return height.reshape(shape).astype(np.float32), t.reshape(shape).astype(np.float32)
