"""Map-to-map alignment on the fusion side: undo each drone's pose error from the maps themselves.

A drone that believes a wrong pose (GNSS metres, IMU degrees) sends a map that is shifted and
turned against the others'. Before fusing, each drone's map (already resampled into the fusion
region) is compared with the reference drone's map and those already aligned: for a few yaw
angles about the centre of the drone's map, the normalised cross-correlation of the two feature
maps over every shift within `max_shift_m` is computed at once with FFTs, and the best
(shift, yaw) is applied with one more bilinear resampling. A correction is only applied when the
maps overlap enough (`min_overlap` cells) and the best match beats no correction by `min_gain`;
otherwise the map is fused as it came (`unaligned='keep'`) or left out (`'drop'`).

ROS-free; the corrections are returned so the node can report them on /diagnostics and the
evaluation in its JSON.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
import torch
import torch.nn.functional as F

UNALIGNED_CHOICES = ('keep', 'drop')
SCALES = (0.98, 1.02)    # a wrong altitude scales the ground-prior map about the drone


@dataclass(frozen=True)
class AlignSettings:
    """How far and how finely to search, and what to do with a map that cannot be aligned."""

    max_shift_m: float = 8.0
    max_yaw_deg: float = 4.0
    yaw_step_deg: float = 0.5
    min_overlap: int = 200          # cells seen by both
    min_gain: float = 0.02          # correlation gain over no correction
    unaligned: str = 'keep'

    def __post_init__(self) -> None:
        if self.unaligned not in UNALIGNED_CHOICES:
            raise ValueError(f'unaligned must be one of {UNALIGNED_CHOICES}, got '
                             f'{self.unaligned!r}')
        if not (self.max_shift_m >= 0 and self.max_yaw_deg >= 0 and self.yaw_step_deg > 0
                and self.min_overlap >= 1):
            raise ValueError('alignment needs max_shift_m, max_yaw_deg >= 0, yaw_step_deg > 0 '
                             'and min_overlap >= 1')


@dataclass(frozen=True)
class Correction:
    """What was done to one drone's map: shift in metres (map x, y), yaw in degrees."""

    agent: str
    status: str                 # reference, aligned, unchanged, no_overlap, dropped
    dx: float = 0.0
    dy: float = 0.0
    dyaw_deg: float = 0.0
    gain: float = 0.0
    overlap: int = 0


def _normalised(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Return unit feature vectors per cell (C, R, W), centred per channel; zero where invalid."""
    x = x - (x * v).sum((1, 2), keepdim=True) / v.sum().clamp(min=1)
    return F.normalize(x, dim=0) * v


def _turn(x: torch.Tensor, yaw: float, centre: tuple[float, float],
          scale: float = 1.0) -> torch.Tensor:
    """Rotate (B, R, W) content by yaw (radians, counter-clockwise in cell axes) and scale it.

    Both about `centre` (col, row).
    """
    _, _, R, W = x.shape
    c, s = math.cos(yaw) / scale, math.sin(yaw) / scale
    cx, cy = centre
    # output cell p samples input at centre + R(-yaw) (p - centre), in normalised coordinates
    cols = (torch.arange(W, dtype=x.dtype) + 0.5)
    rows = (torch.arange(R, dtype=x.dtype) + 0.5)
    rr, cc = torch.meshgrid(rows, cols, indexing='ij')
    sc = cx + c * (cc - cx) + s * (rr - cy)
    sr = cy - s * (cc - cx) + c * (rr - cy)
    grid = torch.stack([2 * sc / W - 1, 2 * sr / R - 1], -1)[None]
    return F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode='bilinear',
                         padding_mode='zeros', align_corners=False)


def _shift(x: torch.Tensor, dc: float, dr: float) -> torch.Tensor:
    """Move (B, R, W) content by (dc, dr) cells (bilinear)."""
    _, _, R, W = x.shape
    theta = torch.tensor([[[1.0, 0.0, -2 * dc / W], [0.0, 1.0, -2 * dr / R]]], dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape[:1]) + [1, R, W], align_corners=False)
    return F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode='bilinear',
                         padding_mode='zeros', align_corners=False)


def _correlate(ref: torch.Tensor, ref_v: torch.Tensor, d: torch.Tensor, v: torch.Tensor,
               S: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cosine similarity and overlap for every shift within +-S cells.

    Returns (2S+1, 2S+1) tensors indexed [dr + S, dc + S] for moving d's content by (dc, dr).
    """
    C, R, W = ref.shape
    size = (R + 2 * S, W + 2 * S)
    fa = torch.fft.rfft2(ref, s=size)
    fd = torch.fft.rfft2(d, s=size)
    corr = torch.fft.irfft2((fa * fd.conj()).sum(0), s=size)
    over = torch.fft.irfft2(torch.fft.rfft2(ref_v, s=size) * torch.fft.rfft2(v, s=size).conj(),
                            s=size)
    idx = torch.arange(-S, S + 1) % size[0], torch.arange(-S, S + 1) % size[1]
    corr = corr[idx[0]][:, idx[1]]
    over = over[idx[0]][:, idx[1]].round()
    return corr / over.clamp(min=1), over


def _peak(line: torch.Tensor, k: int) -> float:
    """Sub-cell offset of a peak at index k of a 1-D score: the vertex of the parabola."""
    if k == 0 or k == len(line) - 1:
        return 0.0
    a, b, c = (float(line[k - 1]), float(line[k]), float(line[k + 1]))
    den = a - 2 * b + c
    return 0.0 if den >= 0 else max(-0.5, min(0.5, 0.5 * (a - c) / den))


def align_maps(maps: torch.Tensor, valid: torch.Tensor, agents: list[str], resolution: float,
               settings: AlignSettings, reference: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor, list[Correction]]:
    """Align maps (N, C, R, W) with validity (N, R, W), all on one grid, to maps[reference].

    Returns the maps and validities to fuse (a dropped map is all invalid) and one Correction
    per drone, in the input order.
    """
    N = maps.shape[0]
    vf = valid.to(maps.dtype)
    S = int(round(settings.max_shift_m / resolution))
    steps = int(round(settings.max_yaw_deg / settings.yaw_step_deg))
    yaws = [math.radians(k * settings.yaw_step_deg) for k in range(-steps, steps + 1)]
    acc = _normalised(maps[reference], vf[reference])
    acc_v = vf[reference].clone()
    out_x, out_v = maps.clone(), valid.clone()
    corrections: list[Correction | None] = [None] * N
    corrections[reference] = Correction(agents[reference], 'reference')
    order = sorted((i for i in range(N) if i != reference),
                   key=lambda i: -float((vf[i] * vf[reference]).sum()))
    for i in order:
        d0 = _normalised(maps[i], vf[i])
        base_over = float((acc_v * vf[i]).sum())
        if base_over < settings.min_overlap:
            if settings.unaligned == 'drop':
                out_v[i] = False
                out_x[i] = 0
            corrections[i] = Correction(agents[i], 'no_overlap' if settings.unaligned == 'keep'
                                        else 'dropped', overlap=int(base_over))
            continue
        rows, cols = torch.nonzero(vf[i] > 0.5, as_tuple=True)
        centre = (float(cols.float().mean()) + 0.5, float(rows.float().mean()) + 0.5)
        base = float((acc * d0).sum() / base_over)
        best = (base, 0.0, 0, 0, int(base_over), 1.0)

        def search(yaw: float, scale: float, best: tuple) -> tuple:
            turned = yaw or scale != 1.0
            d = _turn(d0[None], yaw, centre, scale)[0] if turned else d0
            v = _turn(vf[i][None, None], yaw, centre, scale)[0, 0] if turned else vf[i]
            score, over = _correlate(acc, acc_v, d, (v > 0.5).to(d.dtype), S)
            score = torch.where(over >= settings.min_overlap, score, torch.full_like(score, -2))
            k = int(torch.argmax(score))
            r, c = divmod(k, 2 * S + 1)
            if float(score.view(-1)[k]) > best[0] + 1e-6:
                best = (float(score.view(-1)[k]), yaw, c - S + _peak(score[r], c),
                        r - S + _peak(score[:, c], r), int(over.view(-1)[k]), scale)
            return best

        for yaw in yaws:                       # yaw and shift first, then scale at that yaw
            best = search(yaw, 1.0, best)
        for scale in SCALES:
            best = search(best[1], scale, best)
        gain = best[0] - base
        if gain < settings.min_gain or best[1:4] == (0.0, 0, 0) and best[5] == 1.0:
            corrections[i] = Correction(agents[i], 'unchanged', gain=gain, overlap=int(base_over))
            moved_x, moved_v = maps[i], vf[i]
        else:
            _, yaw, dc, dr, over, scale = best
            x = _turn(maps[i][None], yaw, centre, scale)
            m = _turn(vf[i][None, None], yaw, centre, scale)[:, 0]
            moved_x = _shift(x, dc, dr)[0]
            moved_v = (_shift(m[:, None], dc, dr)[0, 0] > 0.5).to(maps.dtype)
            moved_x = moved_x * moved_v
            out_x[i], out_v[i] = moved_x, moved_v > 0.5
            corrections[i] = Correction(agents[i], 'aligned', dc * resolution, dr * resolution,
                                        math.degrees(yaw), gain, over)
        acc = acc + _normalised(moved_x, moved_v)
        acc_v = torch.clamp(acc_v + moved_v, max=1.0)
        acc = F.normalize(acc, dim=0) * acc_v
    return out_x, out_v, corrections


def corrections_summary(corrections: list[Correction]) -> dict:
    """Count per status and the mean size of the applied corrections."""
    applied = [c for c in corrections if c.status == 'aligned']
    out = {s: sum(1 for c in corrections if c.status == s) for s in
           ('reference', 'aligned', 'unchanged', 'no_overlap', 'dropped')}
    out['mean_shift_m'] = float(np.mean([math.hypot(c.dx, c.dy) for c in applied])) if applied \
        else 0.0
    out['mean_abs_yaw_deg'] = float(np.mean([abs(c.dyaw_deg) for c in applied])) if applied \
        else 0.0
    return out
