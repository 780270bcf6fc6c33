"""Ray-cast camera renderer: for every pixel the nearest hit among the ground plane and all boxes.

The ground hit is analytic for all pixels at once. Each box is tested only against the rays inside
the pixel rectangle its projected corners cover (slab method in the box frame), keeping the nearest
t, so occlusion is exact. Ray parameter t is the optical z-depth (rays have z = 1 in the optical
frame).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .appearance import albedo
from .boxes import BoxSet, CAR
from .ground import Ground
from .lighting import Lighting
from ..geometry import intrinsics

NEAR = 0.05


@dataclass
class RenderResult:
    image: np.ndarray      # (H, W, 3) uint8 RGB
    depth: np.ndarray      # (H, W) float32 z-depth, inf for sky
    height: np.ndarray     # (H, W) float32 height of the hit above ground, 0 for ground and sky
    instance: np.ndarray   # (H, W) uint16 vehicle track id, 0 elsewhere


def _put_rows(dst: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """Set dst[rows] = values for a C-contiguous (N, 3) float32 dst.

    Fast: np.put on 12-byte records.
    """
    rec = np.dtype((np.void, 12))
    np.put(
        dst.view(rec).reshape(-1),
        rows,
        np.ascontiguousarray(values, np.float32).view(rec).reshape(-1),
    )


class Renderer:
    """Renders one pinhole camera of fixed intrinsics at any pose.

    The scene is boxes over a ground.
    """

    def __init__(
        self, width: int, height: int, hfov_deg: float, ground: Ground, lighting: Lighting
    ):
        self.width, self.height = int(width), int(height)
        self.K = intrinsics(self.width, self.height, hfov_deg)
        fx, fy, cx, cy = self.K[0, 0], self.K[1, 1], self.K[0, 2], self.K[1, 2]
        # optical-frame ray of pixel (r, c) is (ax[c], ay[r], 1)
        self.ax = ((np.arange(self.width) + 0.5 - cx) / fx).astype(np.float32)
        self.ay = ((np.arange(self.height) + 0.5 - cy) / fy).astype(np.float32)
        self.ray_norm = np.sqrt(self.ax[None, :] ** 2 + self.ay[:, None] ** 2 + 1.0).astype(
            np.float32
        )
        self.ground, self.lighting = ground, lighting
        # unit-variance sensor noise; each render reads it from a random offset (cheaper than
        # drawing anew)
        self._noise = np.random.default_rng(12345).standard_normal(
            self.height * self.width * 3 + 65536, dtype=np.float32
        )

    def _rects(self, corners: np.ndarray, R: np.ndarray, o: np.ndarray) -> np.ndarray:
        """Return the (N, 4) pixel rectangles r0, r1, c0, c1 covered by each box.

        A rectangle is empty (r0 >= r1) when its box is unseen.
        """
        pc = (corners - o) @ R                              # (N, 8, 3) optical-frame corners
        z = pc[..., 2]
        K = self.K
        with np.errstate(divide='ignore', invalid='ignore'):
            u = K[0, 0] * pc[..., 0] / z + K[0, 2]
            v = K[1, 1] * pc[..., 1] / z + K[1, 2]
        rects = np.stack(
            [np.floor(v.min(1)), np.ceil(v.max(1)), np.floor(u.min(1)), np.ceil(u.max(1))], 1
        )
        rects = np.nan_to_num(rects, nan=0.0, posinf=1e6, neginf=-1e6)
        partly = (z <= NEAR).any(1)
        rects[partly] = [
            0,
            self.height,
            0,
            self.width,
        ]  # straddles the camera plane: test all rays
        rects[(z <= NEAR).all(1)] = [0, 0, 0, 0]
        rects[:, 0:2] = np.clip(rects[:, 0:2], 0, self.height)
        rects[:, 2:4] = np.clip(rects[:, 2:4], 0, self.width)
        return rects.astype(np.int64)

    def render(self, cam_to_map: np.ndarray, boxes: BoxSet, rng: np.random.Generator,
               noise_std: float = 3.0, exposure: float = 1.0) -> RenderResult:
        R = np.asarray(cam_to_map[:3, :3], np.float64)
        o = np.asarray(cam_to_map[:3, 3], np.float64)
        Rf = R.astype(np.float32)
        ax, ay = self.ax[None, :], self.ay[:, None]
        dx = ax * Rf[0, 0] + ay * Rf[0, 1] + Rf[0, 2]  # map-frame ray directions, (H, W) each
        dy = ax * Rf[1, 0] + ay * Rf[1, 1] + Rf[1, 2]
        dz = ax * Rf[2, 0] + ay * Rf[2, 1] + Rf[2, 2]
        with np.errstate(divide='ignore'):
            inv_dz = np.float32(1.0) / dz
        t_best = np.where(dz < -1e-6, np.float32(-o[2]) * inv_dz, np.float32(np.inf)).astype(
            np.float32
        )
        hit = np.full((self.height, self.width), -1, np.int32)

        rects = self._rects(boxes.corners(), R, o)
        visible = np.flatnonzero((rects[:, 1] > rects[:, 0]) & (rects[:, 3] > rects[:, 2]))
        cyaw, syaw = np.cos(boxes.yaw), np.sin(boxes.yaw)
        with np.errstate(divide='ignore', invalid='ignore'):
            for k in visible:
                r0, r1, c0, c1 = rects[k]
                sl = (slice(r0, r1), slice(c0, c1))
                c, s = float(cyaw[k]), float(syaw[k])
                px, py = float(o[0] - boxes.centre[k, 0]), float(o[1] - boxes.centre[k, 1])
                olx, oly, olz = c * px + s * py, -s * px + c * py, float(o[2] - boxes.centre[k, 2])
                hx, hy, hz = (float(h) for h in boxes.half[k])
                rx, ry = dx[sl], dy[sl]
                ix = np.float32(1.0) / (c * rx + s * ry)
                iy = np.float32(1.0) / (c * ry - s * rx)
                iz = inv_dz[sl]
                a, b = (-hx - olx) * ix, (hx - olx) * ix
                tn, tf = np.minimum(a, b), np.maximum(a, b)
                a, b = (-hy - oly) * iy, (hy - oly) * iy
                tn, tf = np.maximum(tn, np.minimum(a, b)), np.minimum(tf, np.maximum(a, b))
                a, b = (-hz - olz) * iz, (hz - olz) * iz
                tn, tf = np.maximum(tn, np.minimum(a, b)), np.minimum(tf, np.maximum(a, b))
                tb = t_best[sl]
                m = (tn <= tf) & (tn > NEAR) & (tn < tb)
                np.copyto(tb, tn, where=m)
                np.copyto(hit[sl], k, where=m)
        return self._shade(o, dx, dy, dz, t_best, hit, boxes, rng, noise_std, exposure)

    def _shade(
        self, o, dx, dy, dz, t, hit, boxes: BoxSet, rng, noise_std, exposure
    ) -> RenderResult:
        H, W = t.shape
        img = np.empty((H, W, 3), np.float32)
        flat = img.reshape(-1, 3)
        finite = np.isfinite(t)
        ox, oy, oz = (float(v) for v in o)
        px, py = ox + t * dx, oy + t * dy                 # float32 (python scalars do not promote)
        pz = np.where(finite, oz + t * dz, np.float32(0.0))
        light = self.lighting
        # flat pixel indices and take(): much faster than boolean masks on images
        fdx, fdy, fdz, ft = dx.reshape(-1), dy.reshape(-1), dz.reshape(-1), t.reshape(-1)
        si = np.flatnonzero(~finite)
        if len(si):                # sky: blend from the horizon colour to the zenith colour
            sx, sy, sz = fdx.take(si), fdy.take(si), fdz.take(si)
            k = np.clip(sz / np.sqrt(sx ** 2 + sy ** 2 + sz ** 2), 0, 1)[:, None] ** 0.5
            _put_rows(
                flat,
                si,
                ((light.sky_horizon * (1 - k) + light.sky_top * k) * 255).astype(np.float32),
            )
        obj = hit >= 0
        gi = np.flatnonzero(finite & ~obj)
        # ground footprint of a pixel: distance / f, stretched by the grazing angle (geometric mean
        # of the axes)
        rn = self.ray_norm.reshape(-1).take(gi)
        foot = (
            ft.take(gi) * rn * rn / (np.float32(self.K[0, 0]) * np.sqrt(np.abs(fdz.take(gi)) * rn))
        )
        _put_rows(
            flat, gi, self.ground.colour(px.reshape(-1).take(gi), py.reshape(-1).take(gi), foot)
        )
        instance = np.zeros((H, W), np.uint16)
        oi = np.flatnonzero(obj)
        if len(oi):
            idx = hit.reshape(-1).take(oi)
            yaw = boxes.yaw.astype(np.float32).take(idx)
            centre = boxes.centre.astype(np.float32).take(idx, axis=0)
            half = boxes.half.astype(np.float32).take(idx, axis=0)
            c, s = np.cos(yaw), np.sin(yaw)
            qx, qy = px.reshape(-1).take(oi), py.reshape(-1).take(oi)
            hx, hy = qx - centre[:, 0], qy - centre[:, 1]
            local = np.stack(
                [c * hx + s * hy, c * hy - s * hx, pz.reshape(-1).take(oi) - centre[:, 2]], 1
            )
            axis = np.argmax(np.abs(local) / half, axis=1)
            sign = np.sign(np.take_along_axis(local, axis[:, None], 1)[:, 0])
            sun = light.sun.astype(np.float32)
            # face normal . sun: top/bottom faces use sun z, side faces the yawed horizontal axis
            nx = np.where(axis == 0, c, np.where(axis == 1, -s, 0)) * sign
            ny = np.where(axis == 0, s, np.where(axis == 1, c, 0)) * sign
            ndots = nx * sun[0] + ny * sun[1] + np.where(axis == 2, sign, 0) * sun[2]
            kind = boxes.kind.take(idx)
            ident = boxes.ident.take(idx)
            shadow = np.zeros(len(idx), bool)
            veh = np.flatnonzero(kind >= CAR)
            if len(veh):
                shadow[veh] = self.ground.in_static_shadow(qx.take(veh), qy.take(veh))
            col = albedo(kind, local, half, boxes.colour.take(idx, axis=0), axis, sign, ident)
            col *= light.shade(ndots, shadow)[:, None] * (light.tint.astype(np.float32) * 255)
            _put_rows(flat, oi, col)
            instance.reshape(-1)[oi] = np.where(kind >= CAR, ident, 0)
        # aerial haze with distance, exposure, then sensor noise
        haze = np.where(
            finite, np.float32(1.0) - np.exp(t * self.ray_norm * np.float32(-1 / 900.0)), 0
        )
        haze = haze.astype(np.float32)[..., None]
        e = np.float32(exposure)
        img *= (np.float32(1.0) - haze) * e
        img += haze * (light.sky_horizon.astype(np.float32) * 255 * e)
        if noise_std > 0:
            off = int(rng.integers(0, 65536))
            img += self._noise[off:off + img.size].reshape(img.shape) * np.float32(noise_std)
        image = np.clip(img, 0, 255).astype(np.uint8)
        depth = t                                      # already inf where no hit
        height = np.where(obj, np.maximum(pz, np.float32(0.0)), np.float32(0.0))
        return RenderResult(image, depth, height, instance)
