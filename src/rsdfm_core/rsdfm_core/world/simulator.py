"""The Simulator: town, traffic and drone fleet advanced in fixed time steps, rendered per drone.

Deterministic for a given WorldConfig: every random stream is derived from the seed.
"""
from __future__ import annotations

from collections.abc import Iterator
import json
import sys

import numpy as np

from .config import WorldConfig
from .fleet import Drone, place_fleet
from .ground import Ground
from .lighting import Lighting
from .render import Renderer
from .town import generate_town, Town
from .traffic import Traffic
from ..types import CameraView, Frame


def _streams(seed: int) -> list[np.random.Generator]:
    """Return the simulator's random streams: town, lighting, ground, traffic, fleet."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]


def town_of(seed: int, town_size: float) -> Town:
    """Return the town a Simulator of this seed and size builds, without the rest of its world."""
    return generate_town(_streams(seed)[0], town_size)


WORLD_KEY = 'rsdfm.world'      # the custom_data key of a simulated bag's world (seed, size)


def world_record(config: WorldConfig) -> str:
    """Return what a bag keeps of its world to rebuild the town: JSON of seed and town size."""
    return json.dumps({'seed': int(config.seed), 'town_size': float(config.town_size)})


def town_from_record(text: str) -> Town:
    """Return the town of a world_record(); ValueError if the text is not one."""
    try:
        rec = json.loads(text)
        return town_of(int(rec['seed']), float(rec['town_size']))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'not a world record ({exc}): {text[:80]!r}') from None


class Simulator:
    """`step()` returns the next Frame.

    A Frame is all drones' views at one capture time, plus all vehicles.
    """

    def __init__(self, config: WorldConfig | None = None):
        self.config = config = config or WorldConfig()
        config.validate()
        rng_town, rng_light, rng_ground, rng_traffic, rng_fleet = _streams(config.seed)
        self.town: Town = generate_town(rng_town, config.town_size)
        margin = 3.0
        if config.altitude[0] < self.town.tallest + margin:
            raise ValueError(
                f'minimum altitude {config.altitude[0]:g} m is below the tallest building '
                f'({self.town.tallest:.1f} m) plus a {margin:g} m margin'
            )
        self.lighting = Lighting.random(rng_light)
        self.ground = Ground(self.town, self.lighting, rng_ground)
        self.traffic = Traffic(self.town, rng_traffic)
        self.drones: list[Drone] = place_fleet(config, rng_fleet)
        self.renderer = Renderer(
            config.width, config.height, config.hfov_deg, self.ground, self.lighting
        )
        self._exposure_phase = rng_light.uniform(0, 2 * np.pi)
        self.index = 0

    @property
    def K(self) -> np.ndarray:
        return self.renderer.K.copy()

    def time_of(self, index: int) -> float:
        """Return the simulated seconds since the start at frame `index`."""
        return index / self.config.rate_hz

    def step(self) -> Frame:
        """Render the current instant for every drone, then advance the world by one period."""
        cfg = self.config
        t = self.time_of(self.index)
        vehicles = self.traffic.boxes()
        objects = self.traffic.objects()
        scene = self.town.solids.concat(vehicles)
        self.ground.set_vehicle_shadows(vehicles)
        exposure = 1.0 + 0.04 * np.sin(0.2 * t + self._exposure_phase)
        views = []
        for i, drone in enumerate(self.drones):
            pose = drone.pose(t, cfg.region_size / 2)
            rng = np.random.default_rng([int(cfg.seed), self.index, i])
            r = self.renderer.render(pose, scene, rng, cfg.noise_std, exposure)
            dense = cfg.dense_gt
            views.append(CameraView(drone.agent_id, r.image, self.K, pose,
                                    r.depth if dense else None, r.height if dense else None,
                                    r.instance if dense else None))
        frame = Frame(self.index, cfg.start_ns + self.index * cfg.period_ns, views, objects)
        self.traffic.advance(1.0 / cfg.rate_hz)
        self.index += 1
        return frame

    def skip(self, n: int) -> None:
        """Advance the world by n periods without rendering (sparser samples of one scene)."""
        for _ in range(int(n)):
            self.traffic.advance(1.0 / self.config.rate_hz)
            self.index += 1

    def frames(self, n: int, progress: bool = False) -> Iterator[Frame]:
        """Yield the next n frames; with progress=True a counter goes to stderr."""
        for k in range(n):
            yield self.step()
            if progress:
                print(
                    f'\rsimulated {k + 1}/{n} frames',
                    end='' if k + 1 < n else '\n',
                    file=sys.stderr,
                    flush=True,
                )
