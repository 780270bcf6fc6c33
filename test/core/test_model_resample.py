"""Resampling a BEV map to a rotated, shifted grid and back matches the original in the overlap."""
import numpy as np
import torch

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.resample import resample

torch.set_num_threads(1)


def test_rotated_shifted_round_trip_matches_in_overlap():
    src = BevGrid.centred(0.0, 0.0, 64.0, 64.0, 1.0)
    dst = BevGrid.centred(6.0, -4.0, 64.0, 64.0, 1.0, yaw=np.radians(30.0))
    xy = src.cell_centres()
    field = np.stack(
        [
            np.sin(xy[..., 0] / 9.0) + np.cos(xy[..., 1] / 7.0),
            0.05 * xy[..., 0] - 0.03 * xy[..., 1],
        ]
    )
    bev = torch.tensor(field[None], dtype=torch.float32)
    valid = torch.ones(1, src.rows, src.cols, dtype=torch.bool)
    mid, mvalid = resample(bev, valid, src, dst)
    # a resampled cell holds the field at its own map position
    dxy = dst.cell_centres()
    expect = np.sin(dxy[..., 0] / 9.0) + np.cos(dxy[..., 1] / 7.0)
    inner = mvalid[0].numpy()
    assert 0.4 < inner.mean() < 0.95  # partial overlap, as built
    assert (
        np.abs(mid[0, 0].numpy() - expect)[inner].max() < 0.1
    )  # border cells extrapolate by <= half a cell
    back, bvalid = resample(mid, mvalid, dst, src)
    m = bvalid[0].numpy().copy()
    # skip a 2-cell rim where bilinear sampling mixes in the zeros outside the overlap
    from scipy.ndimage import binary_erosion
    m = binary_erosion(m, iterations=2)
    assert m.sum() > 1000
    err = np.abs(back[0].numpy() - field)[:, m]
    assert err.max() < 0.05
    # cells outside the overlap are invalid and zero
    assert not bvalid[0, 0, 0] and float(back[0, :, 0, 0].abs().sum()) == 0.0


def test_identity_grid_is_a_copy():
    g = BevGrid.centred(0.0, 0.0, 16.0, 16.0, 1.0)
    bev = torch.randn(1, 3, 16, 16)
    valid = torch.ones(1, 16, 16, dtype=torch.bool)
    out, v = resample(bev, valid, g, g)
    assert torch.equal(out, bev) and torch.equal(v, valid)
