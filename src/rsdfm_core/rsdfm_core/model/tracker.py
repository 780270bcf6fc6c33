"""Multi-object tracker (Hungarian assignment on centre distance), constant-velocity predictor."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from rsdfm_core.types import ObjectState


@dataclass
class Track:
    track_id: int
    state: ObjectState
    history: list[tuple[float, float, float]] = field(default_factory=list)   # (t seconds, x, y)
    misses: int = 0

    def velocity(self, window_s: float = 1.0) -> tuple[float, float]:
        """Return the least-squares velocity over the last window_s seconds of positions.

        Falls back to the box's own velocity.
        """
        h = [p for p in self.history if p[0] >= self.history[-1][0] - window_s]
        if len(h) < 2 or h[-1][0] - h[0][0] < 0.15:
            return self.state.vx, self.state.vy
        # the slope of the least-squares line, in closed form: a LAPACK lstsq call per track
        # and frame took a fifth of detection_node's time
        t = np.array([p[0] for p in h])
        xy = np.array([(p[1], p[2]) for p in h])
        dt = t - t.mean()
        vx, vy = dt @ xy / (dt @ dt)
        return float(vx), float(vy)


class Tracker:
    """Keeps ids across frames.

    Detections are matched to tracks by centre distance within `gate` metres.
    """

    def __init__(self, gate: float = 4.0, max_misses: int = 5, min_score: float = 0.3):
        self.gate, self.max_misses, self.min_score = gate, max_misses, min_score
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, t: float, detections: list[ObjectState]) -> list[Track]:
        """Associate detections at time t (seconds); returns the tracks updated in this frame."""
        dets = [d for d in detections if d.score >= self.min_score]
        pred = []
        for tr in self.tracks:
            dt = t - tr.history[-1][0]
            vx, vy = tr.velocity()
            pred.append((tr.state.x + vx * dt, tr.state.y + vy * dt))
        matched_t, matched_d, updated = set(), set(), []
        if self.tracks and dets:
            P = np.array(pred)
            D = np.array([[d.x, d.y] for d in dets])
            cost = np.linalg.norm(P[:, None] - D[None], axis=2)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] <= self.gate:
                    matched_t.add(r)
                    matched_d.add(c)
                    tr = self.tracks[r]
                    tr.state = copy.copy(dets[c])
                    tr.history = (tr.history + [(t, dets[c].x, dets[c].y)])[-20:]
                    tr.misses = 0
                    updated.append(tr)
        for i, tr in enumerate(self.tracks):
            if i not in matched_t:
                tr.misses += 1
        self.tracks = [tr for tr in self.tracks if tr.misses <= self.max_misses]
        for c, d in enumerate(dets):
            if c not in matched_d:
                tr = Track(self._next_id, copy.copy(d), [(t, d.x, d.y)])
                self._next_id += 1
                self.tracks.append(tr)
                updated.append(tr)
        for tr in updated:
            tr.state.track_id = tr.track_id
            tr.state.vx, tr.state.vy = tr.velocity()
        return sorted(updated, key=lambda tr: tr.track_id)


def constant_velocity(state: ObjectState, steps: int = 6, dt: float = 0.5) -> np.ndarray:
    """Return the (steps, 3) future centres of a box moving at its own velocity."""
    t = dt * np.arange(1, steps + 1)
    return np.stack([state.x + state.vx * t, state.y + state.vy * t, np.full_like(t, state.z)], 1)
