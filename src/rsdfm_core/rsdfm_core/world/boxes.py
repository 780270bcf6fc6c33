"""Oriented boxes standing in the world: buildings, tree parts and vehicles, kept as flat arrays.

One representation for every solid so the renderer casts rays against all of them the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Kinds of solid; the renderer picks a material by kind.
BUILDING, CANOPY, TRUNK = 0, 1, 2
CAR, TRUCK, BUS, CAR_CABIN, TRUCK_CARGO = 3, 4, 5, 6, 7      # vehicle parts: every kind >= CAR
VEHICLE_KIND = {'car': CAR, 'truck': TRUCK, 'bus': BUS}

# Parts of each vehicle class inside its ground-truth box, as fractions of (length, width, height):
# (kind, centre offset along the heading, length, width, height). Every part stands on the ground
# and the tallest part covers the box centre, so the box top centre is a point of the vehicle.
VEHICLE_PARTS = {
    'car': ((CAR, 0.0, 1.0, 1.0, 0.55), (CAR_CABIN, -0.06, 0.48, 0.86, 1.0)),
    'truck': ((TRUCK, 0.38, 0.24, 1.0, 0.85), (TRUCK_CARGO, -0.13, 0.74, 1.0, 1.0)),
    'bus': ((BUS, 0.0, 1.0, 1.0, 1.0),),
}

_UNIT_CORNERS = np.array(
    [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
)


@dataclass
class BoxSet:
    """N oriented boxes.

    Centre (N,3), half extents (N,3), yaw about map z (N,), kind (N,), base colour (N,3) in 0..1,
    ident (N,) (track id for vehicles, 0 otherwise).
    """

    centre: np.ndarray
    half: np.ndarray
    yaw: np.ndarray
    kind: np.ndarray
    colour: np.ndarray
    ident: np.ndarray

    @staticmethod
    def empty() -> 'BoxSet':
        return BoxSet(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0, np.int16),
                      np.zeros((0, 3), np.float32), np.zeros(0, np.int32))

    @staticmethod
    def from_rows(rows: list[tuple], kind: int | list[int], colours: np.ndarray,
                  ident: np.ndarray | None = None) -> 'BoxSet':
        """Build boxes from rows of (cx, cy, z_bottom, length, width, height, yaw)."""
        if not rows:
            return BoxSet.empty()
        a = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
        n = len(a)
        centre = np.stack([a[:, 0], a[:, 1], a[:, 2] + a[:, 5] / 2], 1)
        half = a[:, 3:6] / 2
        kinds = np.broadcast_to(np.asarray(kind, dtype=np.int16), (n,)).copy()
        ident = np.zeros(n, np.int32) if ident is None else np.asarray(ident, np.int32)
        return BoxSet(
            centre,
            half,
            a[:, 6].copy(),
            kinds,
            np.asarray(colours, np.float32).reshape(n, 3),
            ident,
        )

    @staticmethod
    def vehicles(
        labels: list[str],
        xy: np.ndarray,
        yaw: np.ndarray,
        size: np.ndarray,
        colour: np.ndarray,
        track_ids: np.ndarray,
    ) -> 'BoxSet':
        """Return the part boxes of vehicles given by their ground-truth boxes.

        A ground-truth box is centre xy, yaw, size l/w/h.
        """
        rows, kinds, cols, ids = [], [], [], []
        for k, label in enumerate(labels):
            L, W, H = size[k]
            c, s = np.cos(yaw[k]), np.sin(yaw[k])
            for kind, off, fl, fw, fh in VEHICLE_PARTS[label]:
                rows.append(
                    (
                        xy[k, 0] + c * off * L,
                        xy[k, 1] + s * off * L,
                        0.0,
                        fl * L,
                        fw * W,
                        fh * H,
                        yaw[k],
                    )
                )
                kinds.append(kind)
                cols.append(colour[k])
                ids.append(track_ids[k])
        return BoxSet.from_rows(
            rows, kinds, np.array(cols).reshape(-1, 3), np.array(ids, np.int32)
        )

    def __len__(self) -> int:
        return len(self.yaw)

    def concat(self, other: 'BoxSet') -> 'BoxSet':
        return BoxSet(*(np.concatenate([getattr(self, f), getattr(other, f)])
                        for f in ('centre', 'half', 'yaw', 'kind', 'colour', 'ident')))

    def corners(self) -> np.ndarray:
        """(N, 8, 3) corners in map."""
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        local = _UNIT_CORNERS[None] * self.half[:, None, :]
        x = c[:, None] * local[..., 0] - s[:, None] * local[..., 1]
        y = s[:, None] * local[..., 0] + c[:, None] * local[..., 1]
        return np.stack([x, y, local[..., 2]], -1) + self.centre[:, None, :]

    def footprints(self) -> np.ndarray:
        """(N, 4, 2) ground-plane corners, counter-clockwise."""
        return self.corners()[:, [0, 4, 6, 2], :2]
