"""Box centres refined by the segmentation head's votes, from their own vehicle's cells only."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.decode import refine_centres
from rsdfm_core.types import ObjectState

GRID = BevGrid.centred(0.0, 0.0, 32.0, 32.0, 1.0)


def car(x: float, y: float, yaw: float = 0.0) -> ObjectState:
    return ObjectState(0, 'car', x, y, 0.75, 4.5, 1.8, 1.5, yaw, score=0.9)


def seg_of(vehicles: list[ObjectState]) -> torch.Tensor:
    """Return a segmentation output (4, R, W) whose vehicle cells vote exactly for centres."""
    seg = torch.zeros(4, GRID.rows, GRID.cols)
    seg[0] = -10.0
    centres = GRID.cell_centres()                    # (R, W, 2) in map
    for v in vehicles:
        d = centres - np.array([v.x, v.y])
        c, s = math.cos(v.yaw), math.sin(v.yaw)
        inside = ((np.abs(c * d[..., 0] + s * d[..., 1]) <= v.length / 2)
                  & (np.abs(-s * d[..., 0] + c * d[..., 1]) <= v.width / 2))
        rows, cols = np.nonzero(inside)
        cc, rr = GRID.map_to_cells(np.array([[v.x, v.y]]))[0]
        seg[0, rows, cols] = 10.0
        seg[2, rows, cols] = torch.tensor(cc - (cols + 0.5), dtype=torch.float32)
        seg[3, rows, cols] = torch.tensor(rr - (rows + 0.5), dtype=torch.float32)
    return seg


def test_a_box_moves_toward_its_vehicles_votes_and_not_toward_a_neighbours():
    truth, neighbour = car(0.3, 0.2), car(0.3, 2.4)           # parked side by side, 2.2 m apart
    box = car(0.3, 0.7)                                       # 0.5 m off, toward the neighbour
    (moved,) = refine_centres([box], seg_of([truth, neighbour]), GRID)
    assert abs(moved.y - truth.y) < 0.1 and moved.x == pytest.approx(truth.x, abs=1e-6)
    assert (moved.length, moved.width, moved.yaw, moved.score) == (4.5, 1.8, 0.0, 0.9)


def test_a_turned_box_is_refined_in_its_own_frame():
    truth = car(-3.2, 4.1, yaw=math.pi / 2)
    (moved,) = refine_centres([car(-3.6, 4.1, yaw=math.pi / 2)], seg_of([truth]), GRID)
    assert math.hypot(moved.x - truth.x, moved.y - truth.y) < 0.1


def test_a_box_without_votes_stays_where_it_is():
    lone = car(8.0, -8.0)
    assert refine_centres([lone], seg_of([car(-8.0, 8.0)]), GRID) == [lone]
    assert refine_centres([lone], seg_of([]), GRID) == [lone]
    assert refine_centres([], seg_of([lone]), GRID) == []
