"""Recent camera poses by stamp, and the pose interpolated at an image's capture time.

ROS-free so it is tested without a graph. An image is used only with a pose within
`tolerance` of its stamp; between two poses the position is interpolated linearly and the
rotation by slerp (scipy), so drones that publish poses and images at different rates pair.
"""
from __future__ import annotations

import bisect
from enum import Enum

import numpy as np
from scipy.spatial.transform import Rotation, Slerp


class Lookup(Enum):
    WAIT = 'wait'        # a later pose may still arrive that covers the stamp
    MISSING = 'missing'  # no pose within tolerance, and none will come


class PoseBuffer:
    """Poses (4x4 in map) kept sorted by stamp, at most `size` of them."""

    def __init__(self, size: int = 200) -> None:
        self.size = size
        self.stamps: list[int] = []
        self.poses: list[np.ndarray] = []

    def add(self, stamp_ns: int, T: np.ndarray) -> None:
        i = bisect.bisect_left(self.stamps, stamp_ns)
        if i < len(self.stamps) and self.stamps[i] == stamp_ns:
            self.poses[i] = T
            return
        self.stamps.insert(i, stamp_ns)
        self.poses.insert(i, T)
        if len(self.stamps) > self.size:
            del self.stamps[0], self.poses[0]

    def lookup(self, stamp_ns: int, tolerance_ns: int, final: bool = False) -> np.ndarray | Lookup:
        """Return the pose at stamp_ns.

        Lookup.WAIT if a later pose could still settle it, else Lookup.MISSING.

        final: no later pose will be waited for; the newest pose is used if within tolerance.
        """
        s = self.stamps
        if not s or stamp_ns > s[-1]:
            if not final:
                return Lookup.WAIT
            return self.poses[-1] if s and stamp_ns - s[-1] <= tolerance_ns else Lookup.MISSING
        i = bisect.bisect_left(s, stamp_ns)
        if s[i] == stamp_ns:
            return self.poses[i]
        if i == 0:
            return self.poses[0] if s[0] - stamp_ns <= tolerance_ns else Lookup.MISSING
        t0, t1 = s[i - 1], s[i]
        if min(stamp_ns - t0, t1 - stamp_ns) > tolerance_ns:
            return Lookup.MISSING
        a = (stamp_ns - t0) / (t1 - t0)
        P0, P1 = self.poses[i - 1], self.poses[i]
        T = np.eye(4)
        T[:3, 3] = (1 - a) * P0[:3, 3] + a * P1[:3, 3]
        T[:3, :3] = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([P0[:3, :3], P1[:3, :3]])))(
            [a]
        ).as_matrix()[0]
        return T

    def newest(self) -> int | None:
        return self.stamps[-1] if self.stamps else None
