"""Procedural town layout.

A road grid with intersections, blocks of buildings, parks, parking lots, trees.

Only the layout lives here (where things are); the ground texture is painted in ground.py and the
moving traffic in traffic.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import BoxSet, BUILDING, CANOPY, TRUNK

ROAD_HALF_WIDTH = 5.0     # two lanes of 3.5 m plus shoulders
LANE_OFFSET = 1.9         # lane centre from the road centre line
SIDEWALK = 2.5
BAY_WIDTH, BAY_DEPTH = 2.7, 5.2

_ROOF_COLOURS = np.array(
    [
        [0.55, 0.55, 0.55],
        [0.42, 0.42, 0.45],
        [0.62, 0.35, 0.28],
        [0.5, 0.43, 0.36],
        [0.7, 0.7, 0.68],
        [0.35, 0.38, 0.42],
        [0.58, 0.5, 0.42],
        [0.3, 0.32, 0.3],
    ]
)


@dataclass
class Town:
    """A town of side `size` centred at the map origin.

    road_xs: x of the roads running along map y; road_ys: y of the roads running along map x.
    buildings/trees: solids (BoxSet). parking: (K, 4) lots as x0, y0, x1, y1. parking_slots: (P, 3)
    x, y, yaw of parking bays. plazas: (Q, 4) paved squares.
    """

    size: float
    road_xs: np.ndarray
    road_ys: np.ndarray
    buildings: BoxSet
    trees: BoxSet
    parking: np.ndarray
    parking_slots: np.ndarray
    plazas: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    road_half_width: float = ROAD_HALF_WIDTH
    lane_offset: float = LANE_OFFSET
    sidewalk: float = SIDEWALK

    @property
    def tallest(self) -> float:
        """Height of the tallest solid in metres (drones must fly above it)."""
        tops = [0.0]
        for b in (self.buildings, self.trees):
            if len(b):
                tops.append(float((b.centre[:, 2] + b.half[:, 2]).max()))
        return max(tops)

    @property
    def solids(self) -> BoxSet:
        return self.buildings.concat(self.trees)


def _road_lines(rng: np.random.Generator, half: float) -> np.ndarray:
    """Road centre coordinates across the town, 40-56 m apart, one road near the centre."""
    start = rng.uniform(-12.0, 12.0)
    lines = [start]
    x = start
    while x < half - 20:
        x += rng.uniform(40.0, 56.0)
        if x < half - 20:
            lines.append(x)
    x = start
    while x > -half + 20:
        x -= rng.uniform(40.0, 56.0)
        if x > -half + 20:
            lines.append(x)
    return np.sort(np.array(lines))


def _spans(lines: np.ndarray, half: float, clear: float) -> list[tuple[float, float]]:
    edges = [-half] + [v for c in lines for v in (c - clear, c + clear)] + [half]
    return [
        (edges[i], edges[i + 1]) for i in range(0, len(edges), 2) if edges[i + 1] - edges[i] > 6.0
    ]


def _tree(
    rng: np.random.Generator, x: float, y: float, rows: list, colours: list, scale: float = 1.0
) -> None:
    h = rng.uniform(5.0, 12.0) * scale
    w = rng.uniform(3.5, 7.0) * scale
    z0 = h * rng.uniform(0.28, 0.4)
    yaw = rng.uniform(0, np.pi / 2)
    rows.append((x, y, z0, w, w * rng.uniform(0.8, 1.0), h - z0, yaw))
    colours.append(
        np.array([0.22, 0.42, 0.16]) * rng.uniform(0.7, 1.2) + rng.uniform(-0.04, 0.04, 3)
    )
    rows.append((x, y, 0.0, 0.45, 0.45, z0 + 0.4, yaw))
    colours.append(np.array([0.33, 0.24, 0.16]))


def _scatter_trees(rng, x0, x1, y0, y1, density, rows, colours, avoid=()) -> None:
    n = rng.poisson(max((x1 - x0) * (y1 - y0) * density, 0.0))
    pts: list[tuple[float, float]] = []
    for _ in range(n * 3):
        if len(pts) >= n:
            break
        p = (
            (rng.uniform(x0 + 2.5, x1 - 2.5), rng.uniform(y0 + 2.5, y1 - 2.5))
            if x1 - x0 > 5 and y1 - y0 > 5
            else None
        )
        if p is None:
            break
        if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 > 25.0 for q in pts):
            pts.append(p)
    for p in pts:
        _tree(rng, p[0], p[1], rows, colours)


def _split(
    a: float, b: float, rng: np.random.Generator, lo: float, hi: float
) -> list[tuple[float, float]]:
    """Cut [a, b] into lots between lo and hi long (the last may be shorter)."""
    cuts = [a]
    while b - cuts[-1] > hi:
        cuts.append(cuts[-1] + rng.uniform(lo, hi))
    cuts.append(b)
    return list(zip(cuts[:-1], cuts[1:]))


def _parking_lot(rng, x0, x1, y0, y1, lots, slots) -> None:
    """Return a paved lot with rows of perpendicular bays; rows run along the longer side."""
    lots.append((x0, y0, x1, y1))
    along_x = (x1 - x0) >= (y1 - y0)
    a0, a1, b0, b1 = (x0, x1, y0, y1) if along_x else (y0, y1, x0, x1)
    b = b0 + 1.0
    facing = 1
    while b + BAY_DEPTH <= b1 - 1.0:
        centre_b = b + BAY_DEPTH / 2
        n = int((a1 - a0 - 2.0) // BAY_WIDTH)
        for k in range(n):
            a = a0 + 1.0 + (k + 0.5) * BAY_WIDTH
            yaw = (
                (np.pi / 2 if facing > 0 else -np.pi / 2)
                if along_x
                else (0.0 if facing > 0 else np.pi)
            )
            slots.append((a, centre_b, yaw) if along_x else (centre_b, a, yaw))
        b += BAY_DEPTH
        facing = -facing
        if facing > 0:        # an aisle after every back-to-back pair of rows
            b += 6.5


def generate_town(rng: np.random.Generator, size: float = 240.0) -> Town:
    """Lay out a town: the road grid first, then the blocks.

    Each block is filled with buildings, a park, a plaza or parking.
    """
    half = size / 2
    road_xs, road_ys = _road_lines(rng, half), _road_lines(rng, half)
    clear = ROAD_HALF_WIDTH + SIDEWALK
    b_rows, b_cols, t_rows, t_cols, lots, slots, plazas = [], [], [], [], [], [], []
    for x0, x1 in _spans(road_xs, half, clear):
        for y0, y1 in _spans(road_ys, half, clear):
            kind = rng.choice(['buildings', 'park', 'parking', 'mixed'], p=[0.55, 0.12, 0.13, 0.2])
            if kind == 'park':
                _scatter_trees(rng, x0, x1, y0, y1, 1 / 90, t_rows, t_cols)
                continue
            if kind == 'parking':
                _parking_lot(rng, x0 + 1.5, x1 - 1.5, y0 + 1.5, y1 - 1.5, lots, slots)
                continue
            along_x = (x1 - x0) >= (y1 - y0)
            depth = (y1 - y0) if along_x else (x1 - x0)
            rows_of_lots = 2 if depth > 34 else 1
            cut_b = np.linspace(y0 if along_x else x0, y1 if along_x else x1, rows_of_lots + 1)
            for r in range(rows_of_lots):
                for a0, a1 in _split(
                    x0 if along_x else y0, x1 if along_x else y1, rng, 14.0, 30.0
                ):
                    lx0, lx1, ly0, ly1 = (
                        (a0, a1, cut_b[r], cut_b[r + 1])
                        if along_x
                        else (cut_b[r], cut_b[r + 1], a0, a1)
                    )
                    roll = rng.uniform()
                    if kind == 'mixed' and roll < 0.35:
                        _parking_lot(rng, lx0 + 1.0, lx1 - 1.0, ly0 + 1.0, ly1 - 1.0, lots, slots)
                        continue
                    if roll > 0.88 or lx1 - lx0 < 10 or ly1 - ly0 < 10:
                        if rng.uniform() < 0.5:
                            plazas.append((lx0 + 1, ly0 + 1, lx1 - 1, ly1 - 1))
                        _scatter_trees(rng, lx0, lx1, ly0, ly1, 1 / 70, t_rows, t_cols)
                        continue
                    m = rng.uniform(1.5, 4.0, 4)
                    bx0, bx1, by0, by1 = lx0 + m[0], lx1 - m[1], ly0 + m[2], ly1 - m[3]
                    centrality = 1.0 - min(1.0, np.hypot((bx0 + bx1) / 2, (by0 + by1) / 2) / half)
                    h = 5.0 + (22.0 + 8.0 * centrality) * rng.uniform() ** 1.6
                    b_rows.append(
                        ((bx0 + bx1) / 2, (by0 + by1) / 2, 0.0, bx1 - bx0, by1 - by0, h, 0.0)
                    )
                    b_cols.append(
                        _ROOF_COLOURS[rng.integers(len(_ROOF_COLOURS))] * rng.uniform(0.85, 1.15)
                    )
    # street trees on the sidewalks, away from intersections
    for axis, lines, cross in ((0, road_ys, road_xs), (1, road_xs, road_ys)):
        for c in lines:
            for side in (-1, 1):
                s = -half + rng.uniform(3, 12)
                while s < half - 3:
                    if np.min(np.abs(cross - s)) > clear + 6 and rng.uniform() < 0.55:
                        off = c + side * (ROAD_HALF_WIDTH + SIDEWALK * 0.55)
                        x, y = (s, off) if axis == 0 else (off, s)
                        _tree(rng, x, y, t_rows, t_cols, scale=0.8)
                    s += rng.uniform(9.0, 18.0)
    trees = BoxSet.from_rows(t_rows, [CANOPY if i % 2 == 0 else TRUNK for i in range(len(t_rows))],
                             np.clip(np.array(t_cols), 0, 1) if t_cols else np.zeros((0, 3)))
    buildings = BoxSet.from_rows(
        b_rows, BUILDING, np.clip(np.array(b_cols), 0, 1) if b_cols else np.zeros((0, 3))
    )
    return Town(
        size,
        road_xs,
        road_ys,
        buildings,
        trees,
        np.array(lots, dtype=np.float64).reshape(-1, 4),
        np.array(slots, dtype=np.float64).reshape(-1, 3),
        np.array(plazas, dtype=np.float64).reshape(-1, 4),
    )
