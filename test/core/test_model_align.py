"""Map alignment on the fusion side: a shifted and turned copy of a map is put back in place."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rsdfm_core.model.align import (
    _about, _translation, _warp, align_maps, AlignSettings, apply_corrections, corrections_summary,
    refine_locally)

torch.manual_seed(0)
SIZE = 96


def scene(channels: int = 8) -> torch.Tensor:
    """Smooth random features (C, R, W): blobs a few cells wide, like BEV features."""
    x = torch.randn(1, channels, SIZE // 4, SIZE // 4)
    return F.interpolate(x, size=(SIZE, SIZE), mode='bicubic', align_corners=False)[0]


def window(r0: int, r1: int, c0: int, c1: int) -> torch.Tensor:
    v = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    v[r0:r1, c0:c1] = True
    return v


def moved_back(correction: np.ndarray, error: np.ndarray, span: tuple[int, int]) -> float:
    """Median distance (cells) of points in span x span from where correction @ error puts them."""
    cc, rr = np.meshgrid(np.arange(*span, 2.0), np.arange(*span, 2.0))
    pts = np.stack([cc.ravel(), rr.ravel(), np.ones(cc.size)])
    back = correction @ error @ pts
    return float(np.median(np.hypot(back[0] / back[2] - pts[0], back[1] / back[2] - pts[1])))


def displaced(x: torch.Tensor, dc: float, dr: float, yaw_deg: float, centre) -> torch.Tensor:
    return _warp(x[None], _translation(dc, dr) @ _about(centre, math.radians(yaw_deg)))[0]


@pytest.mark.parametrize('dc, dr, yaw', [(3.0, -2.0, 2.0), (-4.0, 1.0, -3.0), (2.5, 0.0, 0.0)])
def test_a_displaced_map_is_put_back(dc, dr, yaw):
    world = scene()
    ref_v, own_v = window(8, 72, 8, 72), window(24, 90, 24, 90)
    centre = (57.0, 57.0)                          # the drone map's centre (col, row)
    # what the drone sends: its window of the world, displaced by its pose error
    sent = displaced(world * own_v, dc, dr, yaw, centre)
    sent_v = displaced(own_v[None].float(), dc, dr, yaw, centre)[0] > 0.5
    maps = torch.stack([world * ref_v, sent * sent_v])
    valid = torch.stack([ref_v, sent_v])
    out, out_v, corr = align_maps(maps, valid, ['uav1', 'uav2'], 1.0, AlignSettings(min_gain=0.0))
    assert [c.status for c in corr] == ['reference', 'aligned']
    c = corr[1]
    # the correction undoes the error: turn back by -yaw, move back by about -(dc, dr)
    assert c.dyaw_deg == pytest.approx(-yaw, abs=0.51)
    assert math.hypot(c.dx + dc, c.dy + dr) < 1.2 + abs(yaw) * 0.5
    # the whole move it reports takes displaced content back to where it was
    assert moved_back(c.homography, _translation(dc, dr) @ _about(centre, math.radians(yaw)),
                      (30, 66)) < 0.6
    both = out_v[1] & own_v & window(30, 66, 30, 66)
    err_before = (sent - world)[:, both].abs().mean()
    err_after = (out[1] - world)[:, both].abs().mean()
    assert err_after < 0.5 * err_before


def test_a_tilted_map_is_unbent_by_a_homography():
    # a wrong pitch stretches far ground more than near ground: a projective warp of the map
    world = scene()
    ref_v, own_v = window(4, 92, 4, 92), window(16, 80, 16, 80)
    H = np.array([[1.03, 0.01, -1.5], [0.005, 1.02, -1.0], [2e-4, 1e-4, 1.0]])
    sent = _warp((world * own_v)[None], H)[0]
    sent_v = _warp(own_v[None, None].float(), H)[0, 0] > 0.5
    acc_v = ref_v.float()
    acc = F.normalize(world - (world * acc_v).sum((1, 2), keepdim=True) / acc_v.sum(),
                      dim=0) * acc_v
    out = refine_locally(acc, acc_v, sent * sent_v, sent_v.float())
    assert out is not None
    warped, wv, gain, found = out
    assert gain > AlignSettings().min_gain
    assert moved_back(found, H, (24, 72)) < 0.6
    inner = wv & own_v & window(24, 72, 24, 72)
    err_before = (sent - world)[:, inner].abs().mean()
    err_after = (warped - world)[:, inner].abs().mean()
    assert err_after < 0.5 * err_before


def test_an_aligned_map_is_left_alone():
    world = scene()
    ref_v, own_v = window(8, 72, 8, 72), window(24, 90, 24, 90)
    maps = torch.stack([world * ref_v, world * own_v])
    out, out_v, corr = align_maps(maps, torch.stack([ref_v, own_v]), ['a', 'b'], 1.0,
                                  AlignSettings())
    assert corr[1].status == 'unchanged'
    assert torch.equal(out, maps) and torch.equal(out_v, torch.stack([ref_v, own_v]))


@pytest.mark.parametrize('unaligned, status', [('keep', 'no_overlap'), ('drop', 'dropped')])
def test_a_map_without_overlap_is_kept_or_dropped(unaligned, status):
    world = scene()
    ref_v, own_v = window(0, 30, 0, 30), window(60, 96, 60, 96)
    maps = torch.stack([world * ref_v, world * own_v])
    out, out_v, corr = align_maps(maps, torch.stack([ref_v, own_v]), ['a', 'b'], 1.0,
                                  AlignSettings(unaligned=unaligned))
    assert corr[1].status == status and corr[1].overlap == 0
    assert bool(out_v[1].any()) is (unaligned == 'keep')
    # corrections found on another signal of these maps leave or drop them the same way
    moved, moved_v = apply_corrections(maps, torch.stack([ref_v, own_v]), corr)
    assert torch.equal(moved_v, out_v) and torch.equal(moved, out)


@pytest.mark.parametrize('unaligned', ['keep', 'drop'])
@pytest.mark.parametrize('error, status', [
    ((30.0, -25.0, 0.0), 'beyond_search'),     # shifted beyond max_shift_m (8)
    ((0.0, 0.0, 20.0), 'beyond_search'),       # turned beyond max_yaw_deg (4)
    (None, 'mismatch'),                        # in place, but mostly other content
])
def test_a_map_that_cannot_be_aligned_is_left_out_as_if_never_sent(unaligned, error, status):
    """Fused as it came, such a map would blur the others' vehicles: worse than not sending it."""
    world = scene()
    ref_v, own_v = window(8, 72, 8, 72), window(24, 90, 24, 90)
    good = torch.stack([world * ref_v, world * own_v])
    wrong = (displaced(world * own_v, *error, (57.0, 57.0)) if error
             else (world + 10 * torch.randn_like(world)) * own_v)
    maps = torch.cat([good, wrong[None]])
    valid = torch.stack([ref_v, own_v, own_v])
    settings = AlignSettings(unaligned=unaligned)
    out, out_v, corr = align_maps(maps, valid, ['a', 'b', 'c'], 1.0, settings)
    assert corr[2].status == status
    if status == 'mismatch':
        assert corr[2].agreement < settings.min_agreement
    assert corr[1].status == 'unchanged' and corr[1].agreement > 0.9
    assert not out_v[2].any() and not out[2].any()
    without, without_v, _ = align_maps(good, valid[:2], ['a', 'b'], 1.0, settings)
    assert torch.equal(out[:2], without) and torch.equal(out_v[:2], without_v)
    moved, moved_v = apply_corrections(maps, valid, corr)
    assert not moved_v[2].any() and torch.equal(moved_v[:2], valid[:2])
    assert corrections_summary(corr)[status] == 1


def test_corrections_found_on_one_signal_move_another():
    """Signal 'decoded': the match is made on other features of the same maps, then applied."""
    world, other = scene(), scene(4)                 # two feature sets of one scene
    ref_v, own_v = window(8, 72, 8, 72), window(24, 90, 24, 90)
    centre, error = (57.0, 57.0), (3.0, -2.0, 2.0)
    sent_v = displaced(own_v[None].float(), *error, centre)[0] > 0.5
    signal = torch.stack([world * ref_v, displaced(world * own_v, *error, centre) * sent_v])
    maps = torch.stack([other * ref_v, displaced(other * own_v, *error, centre) * sent_v])
    valid = torch.stack([ref_v, sent_v])
    _, _, corr = align_maps(signal, valid, ['uav1', 'uav2'], 1.0, AlignSettings(min_gain=0.0))
    moved, moved_v = apply_corrections(maps, valid, corr)
    inner = moved_v[1] & own_v & window(30, 66, 30, 66)
    err_before = (maps[1] - other)[:, inner].abs().mean()
    err_after = (moved[1] - other)[:, inner].abs().mean()
    assert err_after < 0.3 * err_before
    assert torch.equal(moved[0], maps[0])            # the reference stays


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match='unaligned must be one of'):
        AlignSettings(unaligned='maybe')
    with pytest.raises(ValueError, match='yaw_step_deg > 0'):
        AlignSettings(yaw_step_deg=0.0)
    with pytest.raises(ValueError, match='signal must be one of'):
        AlignSettings(signal='images')
