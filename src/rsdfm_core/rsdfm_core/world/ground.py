"""The textured, lit ground of the town.

Grass, asphalt with lane markings, sidewalks, parking, plazas, with baked shadows of the static
solids and fields beyond the town edge.

Painted once per scene into a raster (0.2 m cells); rendering samples it at each ray's ground hit.
Noise at several scales keeps roads and grass from being separable by colour alone.
"""
from __future__ import annotations

import cv2
import numpy as np

from .boxes import BoxSet, TRUNK
from .lighting import Lighting
from .town import Town

RESOLUTION = 0.2
FIELD_RES, FIELD_TILE = 0.5, 512
MIP_LEVELS = 4


def value_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells: int, octaves: int = 3
) -> np.ndarray:
    """Return smooth noise in [-1, 1] of the given shape.

    Bicubic upsampling of random grids, several octaves.
    """
    out = np.zeros(shape, np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = cells * 2 ** o
        grid = rng.uniform(-1, 1, (n + 1, n + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    return np.clip(out / total, -1, 1)


def shadow_polygons(boxes: BoxSet, sun: np.ndarray) -> list[np.ndarray]:
    """Ground shadow of each box: hull of its bottom and top corners pushed along the sun rays."""
    if len(boxes) == 0:
        return []
    c = boxes.corners()
    shift = -sun[:2] / max(sun[2], 1e-3)
    pts = c[..., :2] + c[..., 2:3] * shift
    return [cv2.convexHull(p.astype(np.float32))[:, 0, :] for p in pts]


class Ground:
    """Lit ground colour and shadow lookups for any map point (x, y) on z = 0."""

    def __init__(self, town: Town, lighting: Lighting, rng: np.random.Generator):
        self.town, self.lighting = town, lighting
        self.half = town.size / 2
        self.n = int(round(town.size / RESOLUTION))
        self.static_shadow = np.zeros((self.n, self.n), np.uint8)
        albedo = self._paint(rng)
        for poly in shadow_polygons(self._casters(), lighting.sun):
            cv2.fillConvexPoly(self.static_shadow, self._to_px(poly), 1, shift=4)
        light = lighting.shade(
            np.full((self.n, self.n), lighting.sun[2]), self.static_shadow.astype(bool)
        )
        lit = albedo * light[..., None] * lighting.tint.astype(np.float32)
        self.lit = np.clip(lit * 255, 0, 255).astype(np.uint8)
        # coarser copies (mip levels) so far-away ground is averaged rather than aliased
        self.levels = [self.lit]
        for _ in range(MIP_LEVELS - 1):
            self.levels.append(cv2.pyrDown(self.levels[-1]))
        self.fields = self._paint_fields(rng)
        self.shadow_ratio = lighting.ambient / (
            lighting.ambient + lighting.direct * max(lighting.sun[2], 0.0)
        )
        self.dynamic_shadow = np.zeros_like(self.static_shadow)

    def _casters(self) -> BoxSet:
        t = self.town.trees
        keep = t.kind != TRUNK
        trees = type(t)(
            t.centre[keep], t.half[keep], t.yaw[keep], t.kind[keep], t.colour[keep], t.ident[keep]
        )
        return self.town.buildings.concat(trees)

    def _to_px(self, xy: np.ndarray) -> np.ndarray:
        """Map (N,2) to raster (col, row) integer points for cv2 drawing (fixed point, 4 bits)."""
        return np.round((np.asarray(xy) + self.half) / RESOLUTION * 16 - 8).astype(np.int32)

    # --- painting ----------------------------------------------------------------------------
    def _paint(self, rng: np.random.Generator) -> np.ndarray:
        n, town = self.n, self.town
        g = (np.arange(n) + 0.5) * RESOLUTION - self.half  # cell centre coordinate, both axes
        img = np.empty((n, n, 3), np.float32)
        coarse, fine = value_noise(rng, (n, n), 6, 3), value_noise(rng, (n, n), 60, 2)
        grain = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        grass = np.array([0.32, 0.45, 0.2], np.float32)
        dry = np.array([0.5, 0.5, 0.28], np.float32)
        mix = np.clip(0.5 + 0.6 * coarse, 0, 1)[..., None]
        img[:] = grass * (1 - mix) + dry * mix
        img *= (1 + 0.12 * fine + 0.06 * grain)[..., None]

        def rect(x0, y0, x1, y1):
            return (
                slice(
                    max(int((y0 + self.half) / RESOLUTION), 0),
                    max(int((y1 + self.half) / RESOLUTION), 0),
                ),
                slice(
                    max(int((x0 + self.half) / RESOLUTION), 0),
                    max(int((x1 + self.half) / RESOLUTION), 0),
                ),
            )

        asphalt_var = (1 + 0.1 * coarse + 0.07 * fine + 0.05 * grain)[..., None]
        for x0, y0, x1, y1 in town.plazas:
            r = rect(x0, y0, x1, y1)
            tiles = ((np.floor(g[r[0]] / 1.5)[:, None] + np.floor(g[r[1]] / 1.5)[None, :]) % 2)[
                ..., None
            ]
            img[r] = (
                np.array([0.62, 0.58, 0.52], np.float32) * (0.95 + 0.05 * tiles) * asphalt_var[r]
            )
        for x0, y0, x1, y1 in town.parking:
            r = rect(x0, y0, x1, y1)
            img[r] = np.array([0.36, 0.36, 0.37], np.float32) * asphalt_var[r]
        white = np.array([0.88, 0.88, 0.85], np.float32)
        for x, y, yaw in town.parking_slots:           # bay side lines
            c, s = np.cos(yaw), np.sin(yaw)
            for side in (-1, 1):
                off = np.array([-s, c]) * side * 1.35
                a = np.array([x, y]) + off - np.array([c, s]) * 2.5
                b = np.array([x, y]) + off + np.array([c, s]) * 2.5
                cv2.line(
                    img,
                    tuple(self._to_px(a)),
                    tuple(self._to_px(b)),
                    tuple(float(v) for v in white),
                    1,
                    cv2.LINE_AA,
                    shift=4,
                )
        hw, sw = town.road_half_width, town.sidewalk
        xs, ys = town.road_xs, town.road_ys
        pave = np.array([0.6, 0.59, 0.56], np.float32)
        asphalt = np.array([0.27, 0.27, 0.28], np.float32)
        d_x = np.min(
            np.abs(g[None, :] - xs[:, None]), axis=0
        )  # distance of each column to a N-S road
        d_y = np.min(np.abs(g[None, :] - ys[:, None]), axis=0)     # of each row to an E-W road
        side_c, side_r = d_x < hw + sw, d_y < hw + sw
        road_c, road_r = d_x < hw, d_y < hw
        walk = side_r[:, None] | side_c[None, :]
        road = road_r[:, None] | road_c[None, :]
        img[walk & ~road] = pave * (1 + 0.05 * fine[walk & ~road, None])
        img[road] = asphalt * asphalt_var[road]
        inter = road_r[:, None] & road_c[None, :]
        # lane markings: solid edge lines, dashed centre line, none inside intersections
        edge_c, edge_r = (
            (d_x > hw - 0.55) & (d_x < hw - 0.35),
            (d_y > hw - 0.55) & (d_y < hw - 0.35),
        )
        dash = (g % 6.0) < 3.0
        centre_c, centre_r = d_x < 0.12, d_y < 0.12
        mark = (
            (edge_r | (centre_r))[:, None] & ~road_c[None, :] & ((edge_r[:, None]) | dash[None, :])
        ) | ((edge_c | centre_c)[None, :] & ~road_r[:, None] & (edge_c[None, :] | dash[:, None]))
        # crosswalks: stripes across each approach just outside the intersection
        near_c = (d_x > hw + 0.5) & (d_x < hw + 3.5)
        near_r = (d_y > hw + 0.5) & (d_y < hw + 3.5)
        stripe = (g % 1.2) < 0.6
        cross = (road_r[:, None] & near_c[None, :] & stripe[:, None]) | (
            road_c[None, :] & near_r[:, None] & stripe[None, :]
        )
        mark = (mark | cross) & ~inter
        wear = np.clip(0.85 + 0.15 * fine + 0.1 * grain, 0.6, 1.0)
        img[mark] = white * wear[mark, None] + asphalt * (1 - wear[mark, None])
        for poly in self.town.buildings.footprints():
            cv2.fillConvexPoly(img, self._to_px(poly), (0.2, 0.2, 0.2), cv2.LINE_AA, shift=4)
        return np.clip(img, 0, 1)

    def _paint_fields(self, rng: np.random.Generator) -> np.ndarray:
        """Return a wrapping tile of farmland for the ground beyond the town edge."""
        t = FIELD_TILE
        palette = np.array(
            [
                [0.35, 0.45, 0.2],
                [0.55, 0.5, 0.3],
                [0.42, 0.35, 0.22],
                [0.3, 0.4, 0.18],
                [0.6, 0.58, 0.35],
            ],
            np.float32,
        )
        cells = rng.integers(len(palette), size=(6, 6))
        idx = cv2.resize(cells.astype(np.uint8), (t, t), interpolation=cv2.INTER_NEAREST)
        img = palette[idx]
        g = np.arange(t) * FIELD_RES
        rows = (np.sin(g * 2.5)[:, None] * 0.04 + 1)
        img = img * rows[..., None] * (1 + 0.12 * value_noise(rng, (t, t), 8, 3))[..., None]
        light = self.lighting.ambient + self.lighting.direct * self.lighting.sun[2]
        return np.clip(img * light * self.lighting.tint * 255, 0, 255).astype(np.uint8)

    # --- lookups -----------------------------------------------------------------------------
    def set_vehicle_shadows(self, vehicles: BoxSet) -> None:
        """Rasterise this frame's vehicle shadows (call once per time step)."""
        self.dynamic_shadow[:] = 0
        for poly in shadow_polygons(vehicles, self.lighting.sun):
            cv2.fillConvexPoly(self.dynamic_shadow, self._to_px(poly), 1, shift=4)

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = np.floor((x + self.half) / RESOLUTION).astype(np.int32)
        r = np.floor((y + self.half) / RESOLUTION).astype(np.int32)
        inside = (c >= 0) & (c < self.n) & (r >= 0) & (r < self.n)
        return r, c, inside

    def colour(
        self, x: np.ndarray, y: np.ndarray, footprint: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, 3) float32 0..255 lit ground colour at map points.

        footprint: size in metres of each pixel on the ground; picks the mip level that matches it.
        """
        r, c, inside = self._cells(x, y)
        everywhere = bool(inside.all())
        if not everywhere:
            r, c = r[inside], c[inside]
            if footprint is not None:
                footprint = footprint[inside]
        out = np.empty((len(x), 3), np.float32)
        flat = r * self.n + c
        if footprint is None:
            col = self.lit.reshape(-1, 3).take(flat, axis=0).astype(np.float32)
        else:
            level = np.clip(np.log2(np.maximum(footprint, 1e-6) / (1.5 * RESOLUTION)),
                            0, MIP_LEVELS - 1).astype(np.int8)
            col = np.empty((len(flat), 3), np.float32)
            for k, img in enumerate(self.levels):
                sel = np.flatnonzero(level == k)
                if len(sel):
                    rr, cc = r.take(sel) >> k, c.take(sel) >> k
                    col[sel] = img.reshape(-1, 3).take(rr * img.shape[1] + cc, axis=0)
        dyn = self.dynamic_shadow.reshape(-1).take(flat) > self.static_shadow.reshape(-1).take(
            flat
        )
        col[dyn] *= np.float32(self.shadow_ratio)
        if everywhere:
            return col
        out[inside] = col
        if not everywhere:
            o = ~inside
            fc = np.floor(x[o] / FIELD_RES).astype(np.int64) % FIELD_TILE
            fr = np.floor(y[o] / FIELD_RES).astype(np.int64) % FIELD_TILE
            out[o] = self.fields[fr, fc]
        return out

    def in_static_shadow(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r, c, inside = self._cells(x, y)
        out = np.zeros(len(x), bool)
        out[inside] = self.static_shadow[r[inside], c[inside]] > 0
        return out
