"""Per-scene lighting: a sun direction, ambient and direct strength, a colour tint and a sky."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lighting:
    sun: np.ndarray          # unit vector toward the sun, map frame
    ambient: float
    direct: float
    tint: np.ndarray         # (3,) multiplicative colour of the light
    sky_top: np.ndarray      # (3,) 0..1
    sky_horizon: np.ndarray

    @staticmethod
    def random(rng: np.random.Generator) -> 'Lighting':
        """Different time of day and weather per scene: sun 25-75 deg high, hazy to clear."""
        elev = np.radians(rng.uniform(25.0, 75.0))
        az = rng.uniform(0.0, 2 * np.pi)
        sun = np.array([np.cos(elev) * np.cos(az), np.cos(elev) * np.sin(az), np.sin(elev)])
        ambient = rng.uniform(0.35, 0.55)
        direct = rng.uniform(0.55, 0.8)
        warm = rng.uniform(-1.0, 1.0)
        tint = np.array([1.0 + 0.06 * warm, 1.0, 1.0 - 0.06 * warm]) * rng.uniform(0.9, 1.1)
        return Lighting(sun, float(ambient), float(direct), tint,
                        np.array([0.35, 0.55, 0.85]) * rng.uniform(0.85, 1.05),
                        np.array([0.75, 0.82, 0.9]) * rng.uniform(0.9, 1.05))

    def shade(self, normal_dot_sun: np.ndarray, in_shadow: np.ndarray | None = None) -> np.ndarray:
        """Light factor for Lambert surfaces; shadowed points get ambient only."""
        d = np.maximum(normal_dot_sun, 0.0) * self.direct
        if in_shadow is not None:
            d = np.where(in_shadow, 0.0, d)
        return (self.ambient + d).astype(np.float32)
