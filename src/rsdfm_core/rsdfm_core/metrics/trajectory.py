"""Trajectory errors: ADE / FDE at horizons (1, 2, 3 s) over predicted future points."""
from __future__ import annotations

import numpy as np


class TrajectoryMeter:
    """Accumulates L2 errors of predicted futures against ground-truth futures at step times.

    Predicted futures are (steps, 2+) arrays of positions.
    """

    def __init__(self, dt: float = 0.5, horizons: tuple[float, ...] = (1.0, 2.0, 3.0)):
        self.dt, self.horizons = dt, horizons
        self.errors: list[np.ndarray] = []

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """pred, gt: (steps, >=2) future positions at dt, 2 dt, ...; only x, y count."""
        self.errors.append(np.linalg.norm(np.asarray(pred)[:, :2] - np.asarray(gt)[:, :2], axis=1))

    def result(self) -> tuple[dict, dict]:
        """({'1s': ade, ...}, {'1s': fde, ...}); nan if nothing was added."""
        ade, fde = {}, {}
        E = np.array(self.errors) if self.errors else np.zeros((0, 0))
        for h in self.horizons:
            n = int(round(h / self.dt))
            key = f'{h:g}s'
            if len(E) == 0 or E.shape[1] < n:
                ade[key] = fde[key] = float('nan')
            else:
                ade[key] = float(E[:, :n].mean())
                fde[key] = float(E[:, n - 1].mean())
        return ade, fde

    @property
    def count(self) -> int:
        return len(self.errors)
