"""Map-to-map alignment on the fusion side: undo each drone's pose error from the maps themselves.

A drone that believes a wrong pose (GNSS metres, IMU degrees) sends a map that is shifted and
turned against the others'. Before fusing, each drone's map (already resampled into the fusion
region) is compared with the reference drone's map and those already aligned.

What is compared (`signal`): by default each map as the fusion side decodes it alone (fusion
and BEV decoder, one drone per batch entry), because the decoder puts vehicles and roads where
the heads expect them from any view; the maps as sent hold view-dependent features that pull the
match off (at 1 m / 1 deg of pose noise the ground was left 0.66-0.80 m median from its place
with decoded maps, 1.71 m with the maps as sent; metrics/misplacement.py).

How: for a few yaw angles about the centre of the drone's map, the normalised cross-correlation
of the two feature maps over every shift within `max_shift_m` is computed at once with FFTs,
and the best (shift, yaw) is applied with one more bilinear resampling, then a scale about the
map's centre (a wrong altitude). A wrong pitch or roll bends the map in a way a shift and a turn
cannot undo, so windows of 16 cells are then matched one by one and a ground-plane homography is
fitted to their matches (least median of squares). A correction is only applied when the maps
overlap enough (`min_overlap` cells) and it beats no correction by `min_gain` in mean cosine
similarity (0.01: 0.005 already moved maps that were right, and cost noise-free AP); otherwise
the map is fused as it came (`unaligned='keep'`) or left out (`'drop'`). A map that cannot be
aligned is left out in either mode, so that it cannot make the fused result worse than not
sending it: its best match lies on the search's edge (`beyond_search`: the true error is most
likely beyond it) or still agrees little with the maps fused before it (`mismatch`). Each
correction carries the whole move as a homography of the region's cells, applied to the maps as
sent.

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
STATUSES = ('reference', 'consensus', 'aligned', 'unchanged', 'no_overlap', 'dropped',
            'mismatch', 'beyond_search')
LEFT_OUT = ('dropped', 'mismatch', 'beyond_search')     # statuses of maps that are not fused
SIGNAL_CHOICES = ('decoded', 'maps')
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
SCALES = (0.98, 1.02)    # a wrong altitude scales the ground-prior map about the drone


@dataclass(frozen=True)
class AlignSettings:
    """How far and how finely to search, and what to do with a map that cannot be aligned."""

    max_shift_m: float = 8.0
    max_yaw_deg: float = 4.0
    yaw_step_deg: float = 0.5
    min_overlap: int = 200          # cells seen by both
    min_gain: float = 0.01          # correlation gain over no correction
    # mean cosine similarity with the maps fused before it, after its correction: a map below
    # this matches nowhere within the search (its error is beyond it, or its content is wrong),
    # so it is left out, whatever `unaligned` says; fusing it would blur the others' vehicles.
    # Correct decoded maps: 0.40-0.61 (a training sequence, seed 110, 640x480 images), 0.26
    # from 160x120 images; maps of unrelated content about 0.07
    min_agreement: float = 0.15
    unaligned: str = 'keep'
    local: bool = True              # then a ground-plane homography from windows' matches
    # what is matched: 'decoded', each drone's map through the fusion side alone (the BEV
    # decoder's features put vehicles and roads where the heads expect them, from any view), or
    # 'maps', the maps as sent (their features depend on the view and pull the match off)
    signal: str = 'decoded'

    def __post_init__(self) -> None:
        if self.unaligned not in UNALIGNED_CHOICES:
            raise ValueError(f'unaligned must be one of {UNALIGNED_CHOICES}, got '
                             f'{self.unaligned!r}')
        if self.signal not in SIGNAL_CHOICES:
            raise ValueError(f'signal must be one of {SIGNAL_CHOICES}, got {self.signal!r}')
        if not (self.max_shift_m >= 0 and self.max_yaw_deg >= 0 and self.yaw_step_deg > 0
                and self.min_overlap >= 1):
            raise ValueError('alignment needs max_shift_m, max_yaw_deg >= 0, yaw_step_deg > 0 '
                             'and min_overlap >= 1')


@dataclass(frozen=True)
class Correction:
    """What was done to one drone's map: shift in metres (map x, y), yaw in degrees.

    cells_h: the whole move (turn, shift, scale and local homography), row-major 3x3 from where
    content was to where it went, in the region's continuous (col, row) cell coordinates; the
    evaluation checks it against the true pose error.
    """

    agent: str
    status: str                         # one of STATUSES
    dx: float = 0.0
    dy: float = 0.0
    dyaw_deg: float = 0.0
    gain: float = 0.0
    overlap: int = 0
    cells_h: tuple[float, ...] = IDENTITY
    agreement: float = float('nan')    # mean cosine similarity after the correction

    @property
    def homography(self) -> np.ndarray:
        """Return cells_h as a 3x3 array."""
        return np.asarray(self.cells_h, dtype=np.float64).reshape(3, 3)


def _flat(H: np.ndarray) -> tuple[float, ...]:
    return tuple(float(h) for h in (H / H[2, 2]).reshape(-1))


def _normalised(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Return unit feature vectors per cell (C, R, W), centred per channel; zero where invalid."""
    x = x - (x * v).sum((1, 2), keepdim=True) / v.sum().clamp(min=1)
    return F.normalize(x, dim=0) * v


def _about(centre: tuple[float, float], yaw: float, scale: float = 1.0) -> np.ndarray:
    """Return the 3x3 map of cells turning content by yaw and scaling it about centre (col, row).

    yaw in radians, counter-clockwise in cell axes; source cell -> destination cell.
    """
    c, s = math.cos(yaw) * scale, math.sin(yaw) * scale
    cx, cy = centre
    return np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1.0]])


def _translation(dc: float, dr: float) -> np.ndarray:
    """Return the 3x3 map of cells moving content by (dc, dr)."""
    return np.array([[1.0, 0, dc], [0, 1.0, dr], [0, 0, 1.0]])


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


TILE, TILE_STRIDE, TILE_SHIFT = 16, 8, 3    # cells: local refinement windows and their search


def _warp(x: torch.Tensor, H: np.ndarray) -> torch.Tensor:
    """Move (B, R, W) content by the homography H (cell centres, source -> destination).

    Bilinear; what comes from outside the source is zero.
    """
    _, _, R, W = x.shape
    inv = np.linalg.inv(H)
    cc, rr = np.meshgrid(np.arange(W) + 0.5, np.arange(R) + 0.5)
    pts = np.stack([cc, rr, np.ones_like(cc)], -1) @ inv.T
    sc, sr = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]
    grid = torch.as_tensor(np.stack([2 * sc / W - 1, 2 * sr / R - 1], -1), dtype=x.dtype)[None]
    return F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode='bilinear',
                         padding_mode='zeros', align_corners=False)


def _move(x: torch.Tensor, v: torch.Tensor, H: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Move maps (B, C, R, W) and their validity (B, R, W) by H.

    A cell is valid where more than half of its sampled validity is; its features are zero
    elsewhere.
    """
    moved_v = _warp(v[:, None].to(x.dtype), H)[:, 0] > 0.5
    return _warp(x, H) * moved_v[:, None].to(x.dtype), moved_v


def _mean_cosine(acc: torch.Tensor, acc_v: torch.Tensor, d: torch.Tensor,
                 v: torch.Tensor) -> float:
    both = acc_v * v
    return float((acc * d).sum(0).mul(both).sum() / both.sum().clamp(min=1))


def refine_locally(acc: torch.Tensor, acc_v: torch.Tensor, x: torch.Tensor, v: torch.Tensor,
                   min_tiles: int = 6
                   ) -> tuple[torch.Tensor, torch.Tensor, float, np.ndarray] | None:
    """Undo what a shift and a turn cannot: the ground-plane homography of a tilted camera.

    A wrong pitch or roll moves far ground more than near ground; between two poses of one
    camera the ground maps differ by a homography. Windows of TILE cells are matched within
    TILE_SHIFT cells, and a homography is fitted to the window matches (least median of
    squares). Returns the
    warped map, its validity, the gain in mean cosine similarity and the homography, or None.
    """
    import cv2
    d = _normalised(x, v)
    S, (R, W) = TILE_SHIFT, v.shape
    pad = (S, S, S, S)
    acc_p, accv_p = F.pad(acc, pad), F.pad(acc_v[None], pad)[0]
    scores, overs = [], []
    for dr in range(-S, S + 1):
        for dc in range(-S, S + 1):
            a = acc_p[:, S + dr:S + dr + R, S + dc:S + dc + W]
            av = accv_p[S + dr:S + dr + R, S + dc:S + dc + W]
            scores.append((a * d).sum(0))
            overs.append(av * v)
    score = F.avg_pool2d(torch.stack(scores)[None], TILE, TILE_STRIDE)[0]   # (shifts, tr, tc)
    over = F.avg_pool2d(torch.stack(overs)[None], TILE, TILE_STRIDE)[0]
    full = over[(2 * S + 1) * S + S]                                # overlap with no shift
    src, dst = [], []
    for tr in range(score.shape[1]):
        for tc in range(score.shape[2]):
            if float(full[tr, tc]) < 0.7:
                continue
            side = 2 * S + 1
            grid = (score[:, tr, tc] / over[:, tr, tc].clamp(min=1e-3)).view(side, side)
            grid = torch.where(over[:, tr, tc].view(side, side) > 0.5, grid,
                               torch.full_like(grid, -2))
            k = int(torch.argmax(grid))
            r, c = divmod(k, 2 * S + 1)
            if r in (0, 2 * S) or c in (0, 2 * S):           # on the search edge: unreliable
                continue
            centre = (tc * TILE_STRIDE + TILE / 2, tr * TILE_STRIDE + TILE / 2)
            # content of d at p belongs at p + shift
            src.append(centre)
            dst.append((centre[0] + c - S + _peak(grid[r], c),
                        centre[1] + r - S + _peak(grid[:, c], r)))
    if len(src) < min_tiles:
        return None
    # least median of squares: window matches scatter by about a cell, so RANSAC's fixed 1-cell
    # threshold kept too few of them (median misplacement 0.80 m against 0.66 m with LMedS)
    H, inliers = cv2.findHomography(np.float32(src), np.float32(dst), cv2.LMEDS)
    if H is None or int(inliers.sum()) < min_tiles:
        return None
    warped, wv = (t[0] for t in _move(x[None], v[None], H))
    gain = (_mean_cosine(acc, acc_v, _normalised(warped, wv.to(x.dtype)), wv.to(x.dtype))
            - _mean_cosine(acc, acc_v, d, v))
    return warped, wv, gain, H


def align_maps(maps: torch.Tensor, valid: torch.Tensor, agents: list[str], resolution: float,
               settings: AlignSettings, reference: int | None = 0
               ) -> tuple[torch.Tensor, torch.Tensor, list[Correction]]:
    """Align maps (N, C, R, W) with validity (N, R, W), all on one grid, to maps[reference].

    reference None: no drone's pose is known to be exact. The maps are aligned to the first,
    then all moved by minus the mean of the corrections, so the fused map sits where the
    drones' poses agree on average (its error shrinks with the fleet) rather than where the
    first drone's error put it.

    Returns the maps and validities to fuse (a dropped map is all invalid) and one Correction
    per drone, in the input order.
    """
    if reference is None:
        out_x, out_v, corrections = align_maps(maps, valid, agents, resolution, settings, 0)
        moved = [c for c in corrections if c.status in ('aligned', 'unchanged', 'reference')]
        mx = float(np.mean([c.dx for c in moved])) / resolution if moved else 0.0
        my = float(np.mean([c.dy for c in moved])) / resolution if moved else 0.0
        if abs(mx) < 0.05 and abs(my) < 0.05:
            return out_x, out_v, corrections
        back = _translation(-mx, -my)
        out_x, out_v = _move(out_x, out_v, back)
        corrections = [Correction(c.agent, 'consensus' if c.status == 'reference' else c.status,
                                  c.dx - mx * resolution, c.dy - my * resolution, c.dyaw_deg,
                                  c.gain, c.overlap, _flat(back @ c.homography), c.agreement)
                       for c in corrections]
        return out_x, out_v, corrections
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

    def leave_out(i: int, correction: Correction) -> None:
        out_x[i], out_v[i] = 0, False
        corrections[i] = correction

    for i in order:
        d0 = _normalised(maps[i], vf[i])
        base_over = float((acc_v * vf[i]).sum())
        if base_over < settings.min_overlap:
            if settings.unaligned == 'drop':
                leave_out(i, Correction(agents[i], 'dropped', overlap=int(base_over)))
            else:
                corrections[i] = Correction(agents[i], 'no_overlap', overlap=int(base_over))
            continue
        rows, cols = torch.nonzero(vf[i] > 0.5, as_tuple=True)
        centre = (float(cols.float().mean()) + 0.5, float(rows.float().mean()) + 0.5)
        base = float((acc * d0).sum() / base_over)
        best = (base, 0.0, 0, 0, int(base_over), 1.0)

        def search(yaw: float, scale: float, best: tuple) -> tuple:
            d, v = d0, vf[i]
            if yaw or scale != 1.0:
                H = _about(centre, yaw, scale)
                d, v = _warp(d0[None], H)[0], _warp(vf[i][None, None], H)[0, 0] > 0.5
            score, over = _correlate(acc, acc_v, d, v.to(d.dtype), S)
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
        # the best match on the search's edge: the true error most likely lies beyond it, and
        # what was found there is a look-alike (the town repeats its streets)
        edge = max(abs(best[2]), abs(best[3])) > S - 1 or (
            steps > 0 and abs(math.degrees(best[1])) >= settings.max_yaw_deg - 1e-6)
        if gain >= settings.min_gain and edge:
            leave_out(i, Correction(agents[i], 'beyond_search', gain=gain,
                                    overlap=int(base_over), agreement=best[0]))
            continue
        if gain < settings.min_gain or best[1:4] == (0.0, 0, 0) and best[5] == 1.0:
            corrections[i] = Correction(agents[i], 'unchanged', gain=gain, overlap=int(base_over),
                                        agreement=base)
            moved_x, moved_v = maps[i], vf[i]
        else:
            _, yaw, dc, dr, over, scale = best
            turned_x = _warp(maps[i][None], _about(centre, yaw, scale))
            turned_v = _warp(vf[i][None, None], _about(centre, yaw, scale))[:, 0]
            moved_x, moved = (t[0] for t in _move(turned_x, turned_v, _translation(dc, dr)))
            moved_v = moved.to(maps.dtype)
            out_x[i], out_v[i] = moved_x, moved
            corrections[i] = Correction(
                agents[i], 'aligned', dc * resolution, dr * resolution, math.degrees(yaw), gain,
                over, _flat(_translation(dc, dr) @ _about(centre, yaw, scale)), best[0])
        if settings.local:
            refined = refine_locally(acc, acc_v, moved_x, moved_v)
            if refined is not None and refined[2] >= settings.min_gain:
                moved_x, wv, local_gain, local_h = refined
                moved_v = wv.to(maps.dtype)
                out_x[i], out_v[i] = moved_x, wv
                c = corrections[i]
                corrections[i] = Correction(c.agent, 'aligned', c.dx, c.dy, c.dyaw_deg,
                                            c.gain + local_gain, c.overlap,
                                            _flat(local_h @ c.homography),
                                            c.agreement + local_gain)
        c = corrections[i]
        if c.agreement < settings.min_agreement:
            leave_out(i, Correction(c.agent, 'mismatch', gain=c.gain, overlap=c.overlap,
                                    agreement=c.agreement))
            continue
        acc = acc + _normalised(moved_x, moved_v)
        acc_v = torch.clamp(acc_v + moved_v, max=1.0)
        acc = F.normalize(acc, dim=0) * acc_v
    return out_x, out_v, corrections


def apply_corrections(maps: torch.Tensor, valid: torch.Tensor, corrections: list[Correction]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Move maps (N, C, R, W) and validity (N, R, W) by the corrections align_maps found.

    For corrections found on another signal of the same maps (signal 'decoded'); a dropped map
    comes back all invalid.
    """
    out_x, out_v = maps.clone(), valid.clone()
    for i, c in enumerate(corrections):
        if c.status in LEFT_OUT:
            out_x[i], out_v[i] = 0, False
        elif c.cells_h != IDENTITY:
            moved_x, moved_v = _move(maps[i][None], valid[i][None].to(maps.dtype), c.homography)
            out_x[i], out_v[i] = moved_x[0], moved_v[0]
    return out_x, out_v


def corrections_summary(corrections: list[Correction]) -> dict:
    """Count per status and the mean size of the applied corrections."""
    applied = [c for c in corrections if c.status == 'aligned']
    out = {s: sum(1 for c in corrections if c.status == s) for s in STATUSES}
    out['mean_shift_m'] = float(np.mean([math.hypot(c.dx, c.dy) for c in applied])) if applied \
        else 0.0
    out['mean_abs_yaw_deg'] = float(np.mean([abs(c.dyaw_deg) for c in applied])) if applied \
        else 0.0
    return out
