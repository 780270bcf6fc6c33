"""Settings of the synthetic world: one dataclass so a run is reproducible from its fields."""
from __future__ import annotations

from dataclasses import dataclass

# Simulated clock starts here so stamps look like real capture times (2023-11-14).
DEFAULT_START_NS = 1_700_000_000 * 1_000_000_000
MAX_DRONES = 8


@dataclass
class WorldConfig:
    """All that decides what the simulator renders; same config, same frames, bit for bit."""

    seed: int = 0
    drones: int = 4
    width: int = 640
    height: int = 480
    altitude: tuple[float, float] = (40.0, 120.0)   # metres above ground, drawn per drone
    pitch: tuple[float, float] = (30.0, 70.0)       # degrees below the horizon, drawn per drone
    rate_hz: float = 10.0
    hfov_deg: float = 60.0
    town_size: float = 240.0        # square town centred at the map origin, metres
    region_size: float = 128.0      # fusion region centred at the origin; drones aim inside it
    dense_gt: bool = True           # render depth / height / instance images
    noise_std: float = 3.0          # sensor noise, grey levels
    start_ns: int = DEFAULT_START_NS

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (the CLI turns it into a one-line error)."""
        if not 1 <= int(self.drones) <= MAX_DRONES:
            raise ValueError(f'drones must be between 1 and {MAX_DRONES}, got {self.drones}')
        if self.width < 16 or self.height < 16:
            raise ValueError(f'image size must be at least 16x16, got {self.width}x{self.height}')
        lo, hi = self.altitude
        if not 0 < lo <= hi:
            raise ValueError(f'altitude range must satisfy 0 < MIN <= MAX, got {lo}:{hi}')
        lo, hi = self.pitch
        if not lo <= hi:
            raise ValueError(f'pitch range is inverted: {lo}:{hi}')
        if not 0.0 < lo and hi <= 90.0:
            raise ValueError(f'pitch must lie in (0, 90] degrees below the horizon, got {lo}:{hi}')
        if not 5.0 <= self.hfov_deg <= 150.0:
            raise ValueError(f'hfov_deg must be between 5 and 150, got {self.hfov_deg}')
        if not self.rate_hz > 0:
            raise ValueError(f'rate_hz must be positive, got {self.rate_hz}')
        if self.region_size > self.town_size:
            raise ValueError('region_size must not exceed town_size')

    @property
    def period_ns(self) -> int:
        return int(round(1e9 / self.rate_hz))
