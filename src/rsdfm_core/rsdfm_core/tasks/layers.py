"""Ground truth of the BEV tasks the shipped model was never trained for, on any grid.

The synthetic world knows them exactly: `road` (the carriageway of every street, sidewalks
excluded), `building` (building footprints) and `stationary` (footprints of the vehicles that
stand still, parked in a bay or waiting at a junction; the joint training only ever saw
vehicles, never whether they move). A grid cell belongs to a layer when its centre does.
"""
from __future__ import annotations

import numpy as np

from rsdfm_core.geometry import BevGrid
from rsdfm_core.training.targets import box_masks, footprint_raster
from rsdfm_core.types import ObjectState
from rsdfm_core.world.town import Town

TASKS = {
    'road': 'road surface: the carriageway of every street (sidewalks excluded)',
    'building': 'building footprints',
    'stationary': 'footprints of vehicles standing still (parked or waiting, speed < 0.5 m/s)',
}
STATIONARY_SPEED = 0.5      # m/s: slower vehicles count as standing still
STATIC_TASKS = ('road', 'building')     # fixed per town: the same in every frame


def check_task(task: str) -> str:
    """Return `task` if it is a known task, else raise ValueError naming the known ones."""
    if task not in TASKS:
        raise ValueError(f'unknown task {task!r}: known tasks are {", ".join(TASKS)}')
    return task


def road_mask(town: Town, grid: BevGrid) -> np.ndarray:
    """(R, W) bool: cells on a carriageway of the town."""
    xy = grid.cell_centres()
    x, y = xy[..., 0], xy[..., 1]
    inside = (np.abs(x) <= town.size / 2) & (np.abs(y) <= town.size / 2)
    hw = town.road_half_width
    on_x = np.zeros(x.shape, bool)
    for rx in town.road_xs:
        on_x |= np.abs(x - rx) <= hw
    for ry in town.road_ys:
        on_x |= np.abs(y - ry) <= hw
    return on_x & inside


def building_mask(town: Town, grid: BevGrid) -> np.ndarray:
    """(R, W) bool: cells inside a building footprint."""
    b = town.buildings
    return footprint_raster(b.centre[:, :2], 2 * b.half[:, 0], 2 * b.half[:, 1], b.yaw, grid) > 0


def stationary_mask(objects: list[ObjectState], grid: BevGrid) -> np.ndarray:
    """(R, W) bool: cells inside the footprint of a vehicle slower than STATIONARY_SPEED."""
    still = [o for o in objects if np.hypot(o.vx, o.vy) < STATIONARY_SPEED]
    return box_masks(still, grid) > 0


def task_mask(task: str, town: Town | None, objects: list[ObjectState],
              grid: BevGrid) -> np.ndarray:
    """(R, W) bool ground truth of `task`; the static tasks need the town."""
    check_task(task)
    if task == 'stationary':
        return stationary_mask(objects, grid)
    if town is None:
        raise ValueError(f'task {task} needs the town layout (a simulated scene)')
    return road_mask(town, grid) if task == 'road' else building_mask(town, grid)
