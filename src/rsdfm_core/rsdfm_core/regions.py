"""Where a drone looks, and the region a scene covers.

The ground point on a camera's optical axis and a square BEV grid around it are used by
perception_node (a drone map of `bev_range` metres around where the camera looks) and
fusion_node (follow-a-drone mode), so both place their grids the same way. A bag imported from
a dataset records the region its scene covers (scene_region, region_record), so evaluation and
training follow the data instead of cutting it to the simulator's 128 m.
"""
from __future__ import annotations

import json

import numpy as np

from rsdfm_core.geometry import BevGrid


def aim_point(cam_to_map: np.ndarray, ground_z: float = 0.0) -> np.ndarray:
    """Return the (x, y) where the optical axis meets the ground.

    The camera's own (x, y) if it looks up or level.
    """
    c, d = cam_to_map[:3, 3], cam_to_map[:3, 2]
    if d[2] < -1e-6:
        return c[:2] + d[:2] * ((ground_z - c[2]) / d[2])
    return c[:2].copy()


def grid_around_aim(cam_to_map: np.ndarray, size: float, resolution: float) -> BevGrid:
    """Return a square map-aligned grid of `size` metres centred on the camera's aim point."""
    x, y = aim_point(cam_to_map)
    return BevGrid.centred(float(x), float(y), size, size, resolution)


REGION_KEY = 'rsdfm.region'    # custom_data key of a bag's scene region (importers write it)


def scene_region(points_xy: np.ndarray, resolution: float, margin: float = 8.0,
                 multiple: int = 32) -> BevGrid:
    """Return the map-aligned grid that holds every point with `margin` metres to spare.

    Each side is a whole number of `multiple` cells, so the codec's pooling and the BEV
    decoder's strides divide it.
    """
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    if len(pts) == 0:
        raise ValueError('no points to place a region around')
    lo, hi = pts.min(0) - margin, pts.max(0) + margin
    step = multiple * resolution
    size = np.maximum(np.ceil((hi - lo) / step), 1) * step
    cx, cy = (lo + hi) / 2
    return BevGrid.centred(float(cx), float(cy), float(size[0]), float(size[1]), resolution)


def region_fields(grid: BevGrid) -> dict[str, float]:
    """Return a map-aligned grid's centre, size and resolution (metres)."""
    a = grid.grid_to_map()
    cx, cy = (a @ np.array([grid.cols / 2, grid.rows / 2, 1.0]))[:2]
    return {'cx': round(float(cx), 3), 'cy': round(float(cy), 3),
            'size_x': grid.cols * grid.resolution, 'size_y': grid.rows * grid.resolution,
            'resolution': grid.resolution}


def region_record(grid: BevGrid) -> str:
    """Return the JSON a bag keeps of its region (region_fields)."""
    return json.dumps(region_fields(grid))


def region_from_record(text: str) -> BevGrid:
    """Return the grid of a region_record(); ValueError naming what is wrong otherwise."""
    try:
        r = json.loads(text)
        values = [float(r[k]) for k in ('cx', 'cy', 'size_x', 'size_y', 'resolution')]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f'{REGION_KEY} is not a region record ({exc}): {text[:80]!r}') from None
    if not all(np.isfinite(values)) or min(values[2:]) <= 0:
        raise ValueError(f'{REGION_KEY} needs finite values and positive sizes: {text[:80]!r}')
    return BevGrid.centred(*values)
