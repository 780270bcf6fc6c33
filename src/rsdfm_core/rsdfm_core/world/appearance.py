"""Surface colours (albedo) of buildings, trees and vehicles at ray hit points.

They are computed from box-local coordinates.

Vehicles get windscreens, rear windows, side windows and wheels so a network can find them and
tell their front from their back; buildings get parapets and rows of windows; canopies get leaves.
"""
from __future__ import annotations

import numpy as np

from .boxes import BUILDING, BUS, CANOPY, CAR, CAR_CABIN, TRUCK, TRUCK_CARGO

GLASS = np.array([0.07, 0.08, 0.1], np.float32)
WINDOW = np.array([0.16, 0.19, 0.25], np.float32)
TYRE = np.array([0.05, 0.05, 0.05], np.float32)
TAIL = np.array([0.6, 0.05, 0.05], np.float32)


def cell_hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pseudo-random value in [0, 1) per integer cell (a, b); deterministic, no RNG state."""
    h = np.sin(a.astype(np.float32) * 12.9898 + b.astype(np.float32) * 78.233) * 43758.547
    return (h - np.floor(h)).astype(np.float32)


def albedo(kind: np.ndarray, local: np.ndarray, half: np.ndarray, base: np.ndarray,
           axis: np.ndarray, sign: np.ndarray, ident: np.ndarray) -> np.ndarray:
    """(N, 3) float32 colour in 0..1 of N hit points.

    local: hit point in the box frame (x along the heading); half: half extents; axis/sign: the
    face hit (0: front/back, 1: sides, 2: top/bottom); ident: box track id (vehicles) for
    per-vehicle variation.
    """
    out = base.astype(np.float32)
    for painter, kinds in (
        (_vehicles, (CAR, TRUCK, BUS, CAR_CABIN, TRUCK_CARGO)),
        (_buildings, (BUILDING,)),
        (_canopies, (CANOPY,)),
    ):
        sel = np.flatnonzero(np.isin(kind, kinds))
        if len(sel):
            out[sel] = painter(
                kind[sel], local[sel], half[sel], out[sel], axis[sel], sign[sel], ident[sel]
            )
    return np.clip(out, 0, 1)


def _vehicles(kind, local, half, out, axis, sign, ident):
    """Per part (local coordinates of the part box): windows, lights, wheels, cargo, roof units."""
    f = (local / (2 * half)).astype(np.float32)              # -0.5 .. 0.5 along each part axis
    fl, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    top, side = (axis == 2) & (sign > 0), axis == 1
    front, back = (axis == 0) & (sign > 0), (axis == 0) & (sign < 0)
    body, cabin = kind == CAR, kind == CAR_CABIN
    cab, cargo, bus = kind == TRUCK, kind == TRUCK_CARGO, kind == BUS
    # car body: bonnet and boot in the body colour, dark grille, red tail lights, wheels
    out[body & front & (fz < 0.1)] *= 0.45
    out[body & back & (fz > 0.1) & (np.abs(fy) > 0.28)] = TAIL
    out[(body | cab | cargo | bus) & side & (np.abs(np.abs(fl) - 0.31) < 0.08) & (fz < -0.2)] = (
        TYRE
    )
    # car cabin: roof with the sloped windscreen and rear window seen from above, glass all round
    out[cabin & top & ((fl > 0.26) | (fl < -0.32))] = GLASS
    out[cabin & top & (np.abs(fy) > 0.44)] *= 0.8
    glass_band = fz > 0.1
    out[cabin & side & glass_band & (np.abs(fl) < 0.44) & (np.abs(fl - 0.02) > 0.03)] = GLASS
    out[cabin & (front | back) & glass_band & (np.abs(fy) < 0.44)] = GLASS
    # truck: cab with windscreen, light cargo box with roof ribs
    out[cab & front & (fz > 0.05) & (np.abs(fy) < 0.45)] = GLASS
    out[cab & top & (fl > 0.3)] = GLASS
    out[cab & side & (fl > 0.05) & (fz > 0.12)] = GLASS
    if cargo.any():
        tone = (0.72 + 0.25 * cell_hash(ident[cargo], ident[cargo] * 3 + 1))[:, None] * np.array(
            [1.0, 1.0, 0.97], np.float32
        )
        ribs = np.where(top[cargo] & ((local[cargo, 0] % 0.8) < 0.12), 0.85, 1.0)
        out[cargo] = tone * (np.where(top[cargo], 1.0, 0.93) * ribs)[:, None]
    # bus: light roof with a dark air-conditioning unit, windscreen strip, long window band with
    # pillars
    roof = bus & top
    out[roof] = np.array([0.82, 0.82, 0.8], np.float32)
    out[roof & (fl > -0.1) & (fl < 0.15) & (np.abs(fy) < 0.3)] = np.array(
        [0.42, 0.43, 0.45], np.float32
    )
    out[roof & (fl > 0.44)] = GLASS
    pillars = (local[:, 0] % 1.3) > 0.15
    out[bus & side & (fz > -0.02) & (fz < 0.38) & (np.abs(fl) < 0.46) & pillars] = GLASS
    out[bus & front & (fz > -0.15)] = GLASS
    out[bus & back & (fz > 0.1)] = GLASS
    return out


def _buildings(kind, local, half, out, axis, sign, ident):
    """Parapet around the roof, floors of windows on the walls."""
    top = (axis == 2) & (sign > 0)
    rim = np.minimum(half[:, 0] - np.abs(local[:, 0]), half[:, 1] - np.abs(local[:, 1])) < 0.6
    roof_var = 0.92 + 0.16 * cell_hash(np.floor(local[:, 0] / 4), np.floor(local[:, 1] / 4))
    out[top] *= roof_var[top, None]
    out[top & rim] *= 0.7
    wall = axis < 2
    out[wall] = 0.45 * out[wall] + 0.55 * np.array([0.78, 0.74, 0.66], np.float32)
    z_up = local[:, 2] + half[:, 2]
    along = np.where(axis == 0, local[:, 1], local[:, 0])
    fzf, faf = (z_up / 3.2) % 1.0, (along / 2.8) % 1.0
    win = wall & (fzf > 0.35) & (fzf < 0.8) & (faf > 0.2) & (faf < 0.8) & (z_up > 1.5)
    shine = 0.8 + 0.5 * cell_hash(np.floor(z_up[win] / 3.2), np.floor(along[win] / 2.8))
    out[win] = WINDOW * shine[:, None]
    return out


def _canopies(kind, local, half, out, axis, sign, ident):
    """Leafy cells, sides a little darker than the top."""
    top = (axis == 2) & (sign > 0)
    leaf = 0.7 + 0.5 * cell_hash(
        np.floor(local[:, 0] * 2.0) + 7 * ident, np.floor(local[:, 1] * 2.0 + local[:, 2] * 2.0)
    )
    return out * (leaf * np.where(top, 1.0, 0.85))[:, None]
