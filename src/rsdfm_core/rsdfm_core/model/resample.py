"""Affine resampling of a BEV map from one grid of `map` into another (grid_sample)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rsdfm_core.geometry import BevGrid


def sampling_grid(src: BevGrid, dst: BevGrid) -> torch.Tensor:
    """(1, dst.rows, dst.cols, 2) normalised source coordinates of every destination cell centre.

    Destination cell centre -> map (dst.grid_to_map) -> continuous source (col, row) -> [-1, 1]
    with align_corners=False, where -1 and +1 are the outer edges of the source grid.
    """
    # dst (col, row, 1) -> src (col, row, 1)
    A = np.linalg.inv(src.grid_to_map()) @ dst.grid_to_map()
    cc, rr = np.meshgrid(np.arange(dst.cols) + 0.5, np.arange(dst.rows) + 0.5)
    sc = A[0, 0] * cc + A[0, 1] * rr + A[0, 2]
    sr = A[1, 0] * cc + A[1, 1] * rr + A[1, 2]
    g = np.stack([2 * sc / src.cols - 1, 2 * sr / src.rows - 1], -1)
    return torch.as_tensor(g, dtype=torch.float32)[None]


def resample(
    bev: torch.Tensor, valid: torch.Tensor, src: BevGrid, dst: BevGrid
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample a map and its validity from grid `src` to grid `dst`.

    (B, C, Rs, Ws) and (B, Rs, Ws) on `src` -> (B, C, Rd, Wd) and (B, Rd, Wd) on `dst`.

    Identity grids short-cut to a copy. Features are bilinear with border padding (so cells near
    the source edge are not darkened by zeros); a cell is valid where the bilinear weight of valid
    source cells is above one half; invalid cells are zero.
    """
    if src == dst:
        return bev, valid
    g = sampling_grid(src, dst).to(bev.dtype).expand(bev.shape[0], -1, -1, -1)
    out = F.grid_sample(bev, g, mode='bilinear', padding_mode='border', align_corners=False)
    v = (
        F.grid_sample(
            valid[:, None].to(bev.dtype),
            g,
            mode='bilinear',
            padding_mode='zeros',
            align_corners=False,
        )[:, 0]
        > 0.5
    )
    return out * v[:, None].to(bev.dtype), v
