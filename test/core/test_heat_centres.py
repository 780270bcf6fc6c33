"""Box centres from the heatmap peak's shape: where in its cell a vehicle's centre lies."""
from __future__ import annotations

import math

import pytest
import torch

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.decode import decode_boxes, heat_peak_offsets, HEAT_WEIGHT
from rsdfm_core.model.heads import DET_CHANNELS

GRID = BevGrid.centred(0.0, 0.0, 32.0, 32.0, 1.0)
SIGMA = 0.8      # the training target's Gaussian for a car (training/targets.py)


def det_of(col: float, row: float, offset_error: tuple[float, float]) -> torch.Tensor:
    """Return a detection output (13, R, W) of one car centred at continuous cell (col, row).

    Its heatmap is the Gaussian of the training target; its offset channels, at the peak cell,
    are off by offset_error cells.
    """
    det = torch.zeros(13, GRID.rows, GRID.cols)
    rr, cc = torch.meshgrid(torch.arange(GRID.rows) + 0.5, torch.arange(GRID.cols) + 0.5,
                            indexing='ij')
    g = torch.exp(-((cc - col) ** 2 + (rr - row) ** 2) / (2 * SIGMA ** 2)).clamp(1e-6, 1 - 1e-6)
    det[DET_CHANNELS['heatmap'].start] = torch.log(g / (1 - g))       # the logits of the car class
    det[DET_CHANNELS['heatmap'].start + 1:DET_CHANNELS['heatmap'].stop] = -20.0
    r, c = int(row), int(col)
    det[DET_CHANNELS['offset'], r, c] = torch.tensor(
        [col - c + offset_error[0], row - r + offset_error[1]])
    det[DET_CHANNELS['size'], r, c] = torch.log(torch.tensor([4.5, 1.8, 1.5]))
    det[DET_CHANNELS['yaw'], r, c] = torch.tensor([0.0, 1.0])
    return det


def test_the_peak_vertex_finds_the_centre_within_its_cell():
    for col, row in [(14.2, 17.8), (15.5, 15.5), (16.9, 12.05)]:
        det = det_of(col, row, (0.0, 0.0))
        heat = torch.sigmoid(det[DET_CHANNELS['heatmap']])
        dc, dr, inside = heat_peak_offsets(heat, torch.tensor([0]), torch.tensor([int(row)]),
                                           torch.tensor([int(col)]))
        assert bool(inside[0])
        assert float(dc[0]) == pytest.approx(col - int(col), abs=0.12)
        assert float(dr[0]) == pytest.approx(row - int(row), abs=0.12)


def test_heat_centres_halves_a_wrong_offset():
    col, row = 14.3, 17.7
    det = det_of(col, row, (0.4, -0.4))
    (plain,) = decode_boxes(det, GRID, threshold=0.5)
    (heat,) = decode_boxes(det, GRID, threshold=0.5, heat_centres=True)
    A = GRID.grid_to_map()                      # continuous cells -> map
    tx, ty = A[0, 0] * col + A[0, 1] * row + A[0, 2], A[1, 0] * col + A[1, 1] * row + A[1, 2]
    plain_err = math.hypot(plain.x - tx, plain.y - ty)
    heat_err = math.hypot(heat.x - tx, heat.y - ty)
    assert plain_err == pytest.approx(0.4 * math.sqrt(2), abs=1e-4)
    assert heat_err < (1 - HEAT_WEIGHT) * plain_err + 0.1
    assert (heat.length, heat.width, heat.yaw, heat.score) == (
        plain.length, plain.width, plain.yaw, plain.score)


def test_a_peak_on_the_border_keeps_its_regressed_offset():
    det = det_of(10.4, 0.6, (0.3, 0.3))
    (plain,) = decode_boxes(det, GRID, threshold=0.5)
    (heat,) = decode_boxes(det, GRID, threshold=0.5, heat_centres=True)
    assert (heat.x, heat.y) == (plain.x, plain.y)
