"""Which images a drone maps when its computer cannot map every one: slots of capture time.

A drone that cannot encode every image at the camera rate falls behind (its queue fills and the
latency grows to seconds) or, taking only its newest image, maps other instants than its
neighbours do, and the fusion node joins maps by stamp. With a map rate set, every drone maps
the first image of each 1/rate s slot of capture time, slots counted from stamp 0, so drones
with synchronised cameras map the same instants and unsynchronised ones instants less than one
camera period apart. The latency stays that of one image; the fused output comes at the map
rate.
"""
from __future__ import annotations

import math
from typing import Iterable


def map_period_ns(rate_hz: float) -> int:
    """Return the slot length in ns of a map rate; 0 for rate 0 (every image is mapped)."""
    if not isinstance(rate_hz, (int, float)) or not math.isfinite(rate_hz) or rate_hz < 0:
        raise ValueError(f'map rate must be a finite number >= 0 Hz, got {rate_hz!r}')
    return int(round(1e9 / rate_hz)) if rate_hz > 0 else 0


class MapRateGate:
    """Says per capture stamp whether the drone maps that image (the first of its slot)."""

    def __init__(self, rate_hz: float) -> None:
        self.skipped = 0                             # images skipped since the gate was made
        self.set_rate(rate_hz)

    def set_rate(self, rate_hz: float) -> None:
        """Map at `rate_hz` from the next image on (ValueError if it is not a rate)."""
        self.period_ns = map_period_ns(rate_hz)
        self.last_slot: int | None = None

    def admit(self, stamp_ns: int) -> bool:
        """Return True for the first image of a slot, False for a later one of the slot mapped.

        A stamp in an earlier slot (a bag played again from its start) is mapped and starts
        counting from there.
        """
        if not self.period_ns:
            return True
        slot = int(stamp_ns) // self.period_ns
        if slot == self.last_slot:
            self.skipped += 1
            return False
        self.last_slot = slot
        return True


def mapped_stamps(stamps: Iterable[int], rate_hz: float) -> list[int]:
    """Return the stamps a drone at `rate_hz` maps out of these capture stamps (sorted)."""
    gate = MapRateGate(rate_hz)
    return [s for s in sorted(stamps) if gate.admit(s)]
