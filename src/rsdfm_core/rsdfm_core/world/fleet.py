"""Drone placement: each drone looks obliquely at its own fusion-region point and drifts slowly.

Aim points fan out around the region centre in different directions, so the views overlap near
the centre and together cover much more than any one of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import WorldConfig
from ..geometry import look_at_optical


@dataclass
class Drone:
    agent_id: str
    altitude: float        # metres above ground
    pitch: float           # radians below the horizon
    azimuth: float         # radians, direction the camera looks, from map +x
    aim: np.ndarray        # (2,) ground point the camera looks at (at t = 0)
    drift_amp: np.ndarray  # (2,) metres
    drift_w: np.ndarray    # (4,) rad/s for aim x, aim y, azimuth, altitude
    drift_phase: np.ndarray
    bob: float = 0.0       # altitude oscillation amplitude, kept inside the configured range

    def pose(self, t: float, region_half: float) -> np.ndarray:
        """4x4 optical-frame pose in map at time t seconds."""
        w, ph = self.drift_w, self.drift_phase
        aim = self.aim + self.drift_amp * np.sin(w[:2] * t + ph[:2])
        aim = np.clip(aim, -region_half + 8.0, region_half - 8.0)
        az = self.azimuth + 0.12 * np.sin(w[2] * t + ph[2])
        alt = self.altitude + self.bob * np.sin(w[3] * t + ph[3])
        reach = alt / np.tan(self.pitch)
        position = np.array([aim[0] - reach * np.cos(az), aim[1] - reach * np.sin(az), alt])
        return look_at_optical(position, np.array([aim[0], aim[1], 0.0]))


def place_fleet(cfg: WorldConfig, rng: np.random.Generator) -> list[Drone]:
    """Draw altitude, pitch, heading and drift for each of cfg.drones drones."""
    n = int(cfg.drones)
    rot0 = rng.uniform(0, 2 * np.pi)
    drones = []
    for i in range(n):
        az = rot0 + 2 * np.pi * i / n + rng.uniform(-0.35, 0.35)
        r = rng.uniform(0.0, 18.0) if n == 1 else rng.uniform(12.0, 30.0)
        aim = r * np.array([np.cos(az), np.sin(az)])
        alt = float(rng.uniform(*cfg.altitude))
        drones.append(Drone(
            agent_id=f'uav{i + 1}',
            altitude=alt,
            pitch=float(np.radians(rng.uniform(*cfg.pitch))),
            azimuth=float(az),
            aim=aim,
            drift_amp=rng.uniform(3.0, 8.0, 2),
            drift_w=2 * np.pi / rng.uniform(40.0, 90.0, 4),
            drift_phase=rng.uniform(0, 2 * np.pi, 4),
            bob=float(min(1.5, alt - cfg.altitude[0], cfg.altitude[1] - alt)),
        ))
    return drones
