"""Training targets on the BEV grid, and bin targets for the lifting.

BEV: CenterPoint heatmaps and regressions, segmentation, trajectories. Per pixel: depth/height
bin targets for the lifting's auxiliary loss.
"""
from __future__ import annotations

import numpy as np

from rsdfm_core.geometry import BevGrid
from rsdfm_core.types import CameraView, LABELS, ObjectState

MAX_OBJECTS = 256
REG_DIM = 10     # offset (2), z, log l w h (3), sin/cos of 2*yaw (2), velocity (2)


def visible_ids(
    views: list[CameraView], objects: list[ObjectState], min_pixels: int = 4
) -> set[int]:
    """Return the track ids of objects that some view sees.

    Seen: >= min_pixels in an instance map, or, for views without one, a box centre that
    projects inside the image (in front of the camera).
    """
    from rsdfm_core.geometry import project_points
    ids: set[int] = set()
    for v in views:
        if v.instance is not None:
            u, c = np.unique(v.instance, return_counts=True)
            ids |= {int(i) for i, n in zip(u, c) if i != 0 and n >= min_pixels}
        elif objects:
            h, w = v.image.shape[:2]
            uv, z = project_points(v.K, v.cam_to_map, np.array([[o.x, o.y, o.z] for o in objects]))
            ok = (z > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
            ids |= {o.track_id for o, k in zip(objects, ok) if k}
    return ids


def in_region(objects: list[ObjectState], grid: BevGrid) -> list[ObjectState]:
    """Objects whose centre lies inside the grid."""
    if not objects:
        return []
    cr = grid.map_to_cells(np.array([[o.x, o.y] for o in objects]))
    return [o for o, (c, r) in zip(objects, cr) if 0 <= c < grid.cols and 0 <= r < grid.rows]


def footprint_raster(xy: np.ndarray, length: np.ndarray, width: np.ndarray, yaw: np.ndarray,
                     grid: BevGrid) -> np.ndarray:
    """Return the (R, W) uint16 raster of oriented footprints.

    A cell whose centre is inside footprint i gets i + 1 (later footprints win on overlaps).
    """
    out = np.zeros((grid.rows, grid.cols), np.uint16)
    if len(xy) == 0:
        return out
    centres = grid.cell_centres()
    crs = grid.map_to_cells(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    for i, (x, y, ln, wd, a, cr) in enumerate(zip(xy[:, 0], xy[:, 1], length, width, yaw, crs)):
        rad = int(np.ceil(0.5 * np.hypot(ln, wd) / grid.resolution)) + 1
        c0, c1 = max(int(cr[0]) - rad, 0), min(int(cr[0]) + rad + 1, grid.cols)
        r0, r1 = max(int(cr[1]) - rad, 0), min(int(cr[1]) + rad + 1, grid.rows)
        if c0 >= c1 or r0 >= r1:
            continue
        d = centres[r0:r1, c0:c1] - np.array([x, y])
        c, s = np.cos(a), np.sin(a)
        lx, ly = c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]
        inside = (np.abs(lx) <= ln / 2) & (np.abs(ly) <= wd / 2)
        out[r0:r1, c0:c1][inside] = i + 1
    return out


def box_masks(objects: list[ObjectState], grid: BevGrid) -> np.ndarray:
    """Return the (R, W) uint16 instance raster of the boxes.

    A cell whose centre is inside a box footprint gets that object's 1-based index.
    """
    if not objects:
        return np.zeros((grid.rows, grid.cols), np.uint16)
    a = np.array([[o.x, o.y, o.length, o.width, o.yaw] for o in objects], dtype=np.float64)
    return footprint_raster(a[:, :2], a[:, 2], a[:, 3], a[:, 4], grid)


def gaussian(shape: tuple[int, int], centre: tuple[float, float], sigma: float) -> np.ndarray:
    r, c = np.ogrid[:shape[0], :shape[1]]
    return np.exp(-((c + 0.5 - centre[0]) ** 2 + (r + 0.5 - centre[1]) ** 2) / (2 * sigma ** 2))


def bev_targets(objects: list[ObjectState], grid: BevGrid, futures: np.ndarray | None = None,
                steps: int = 6) -> dict[str, np.ndarray]:
    """Dense and sparse BEV targets of the given (visible, in-region) objects.

    futures: (N, steps, 2) map positions at the future step times, nan where unknown.
    Returns heatmap (3, R, W), centre (R, W), mask (R, W), seg_offset (2, R, W), index (M,) flat
    centre cells, reg (M, REG_DIM), traj (M, 2 * steps), traj_mask (M, 2 * steps), count (scalar).
    """
    R, W = grid.rows, grid.cols
    heat = np.zeros((3, R, W), np.float32)
    centre = np.zeros((R, W), np.float32)
    index = np.zeros(MAX_OBJECTS, np.int64)
    reg = np.zeros((MAX_OBJECTS, REG_DIM), np.float32)
    traj = np.zeros((MAX_OBJECTS, 2 * steps), np.float32)
    traj_mask = np.zeros((MAX_OBJECTS, 2 * steps), np.float32)
    inst = box_masks(objects, grid)
    seg_off = np.zeros((2, R, W), np.float32)
    cg, sg = np.cos(grid.yaw), np.sin(grid.yaw)
    n = 0
    cells = (
        grid.map_to_cells(np.array([[o.x, o.y] for o in objects])) if objects else np.zeros((0, 2))
    )
    for i, (o, (cc, rr)) in enumerate(zip(objects, cells)):
        if not (0 <= cc < W and 0 <= rr < R) or n >= MAX_OBJECTS:
            continue
        sigma = max(0.8, min(o.length, o.width) / grid.resolution / 2.5)
        g = gaussian((R, W), (cc, rr), sigma)
        k = LABELS.index(o.label)
        heat[k] = np.maximum(heat[k], g)
        centre = np.maximum(centre, g)
        ci, ri = int(cc), int(rr)
        heat[k, ri, ci] = 1.0
        centre[ri, ci] = 1.0
        index[n] = ri * W + ci
        yaw = o.yaw - grid.yaw
        reg[n] = [cc - ci, rr - ri, o.z, np.log(o.length), np.log(o.width), np.log(o.height),
                  np.sin(2 * yaw), np.cos(2 * yaw), cg * o.vx + sg * o.vy, -sg * o.vx + cg * o.vy]
        m = inst == i + 1
        rows, cols = np.nonzero(m)
        seg_off[0, rows, cols] = cc - (cols + 0.5)
        seg_off[1, rows, cols] = rr - (rows + 0.5)
        if futures is not None:
            d = futures[i] - np.array([o.x, o.y])
            loc = np.stack([cg * d[:, 0] + sg * d[:, 1], -sg * d[:, 0] + cg * d[:, 1]], 1)
            ok = np.isfinite(loc).all(1)
            traj[n] = np.where(np.repeat(ok, 2), np.nan_to_num(loc).reshape(-1), 0.0)
            traj_mask[n] = np.repeat(ok, 2).astype(np.float32)
        n += 1
    return {
        'heatmap': heat,
        'centre': centre,
        'mask': (inst > 0).astype(np.float32),
        'seg_offset': seg_off,
        'instances': inst,
        'index': index,
        'reg': reg,
        'traj': traj,
        'traj_mask': traj_mask,
        'count': np.int64(n),
    }


def bin_targets(values: np.ndarray, centres: np.ndarray, stride: int, log: bool = False,
                limit: float | None = None) -> np.ndarray:
    """Return the per-feature-pixel bin index (int16, -1 = ignore) of a dense per-pixel map.

    The map is height or z-depth.

    The value at the centre pixel of each stride x stride block is assigned to the nearest bin
    centre (in log space for depth); non-finite values and values beyond `limit` are ignored.
    """
    h, w = values.shape
    v = values[stride // 2::stride, stride // 2::stride][:h // stride, :w // stride].astype(
        np.float64
    )
    ok = np.isfinite(v)
    if limit is not None:
        ok &= v <= limit
    a = np.log(np.maximum(v, 1e-3)) if log else v
    c = np.log(centres) if log else np.asarray(centres, dtype=np.float64)
    idx = np.abs(np.where(ok, a, 0)[..., None] - c).argmin(-1)
    return np.where(ok, idx, -1).astype(np.int16)    # up to 32767 bins (1 m depth bins)
