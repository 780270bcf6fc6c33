"""Where a drone looks: the ground point on its optical axis, and a square BEV grid around it.

Used by perception_node (a drone map of `bev_range` metres around where the camera looks) and
fusion_node (follow-a-drone mode), so both place their grids the same way.
"""
from __future__ import annotations

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
