"""Pairs the messages of two streams that share a header stamp (a fused map and its detections).

Two topics reach a node in any order relative to each other, so each message waits until its
partner with the same stamp arrives. The wait is bounded: a message is given up (evicted)
when more than `capacity` wait on its side, when it is more than `max_age_ns` older than the
newest stamp seen on either side (its partner was lost or refused upstream), or when a later
message with the same stamp replaces it. Every eviction is returned to the caller and counted
by reason code, so a lost partner shows up as a figure instead of a slow leak. ROS-free.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Eviction:
    """A message given up without a partner: `code` is '<reason>_<side>' for counters."""

    side: str
    stamp_ns: int
    reason: str          # 'unpaired' (capacity or age) or 'duplicate' (same stamp again)

    @property
    def code(self) -> str:
        return f'{self.reason}_{self.side}'


@dataclass
class Added:
    """What one add() did: the completed pair (items in side order) or None, and any evictions."""

    pair: tuple[Any, Any] | None = None
    evicted: list[Eviction] = field(default_factory=list)


class StampPairing:
    """Waiting messages of two named sides, by stamp; add() returns a pair once both are in."""

    def __init__(self, sides: tuple[str, str], capacity: int = 10,
                 max_age_ns: int = 2_000_000_000):
        if len(sides) != 2 or sides[0] == sides[1]:
            raise ValueError(f'need two different side names, got {sides!r}')
        if capacity < 1 or max_age_ns <= 0:
            raise ValueError(f'capacity must be >= 1 and max_age_ns > 0, '
                             f'got {capacity}, {max_age_ns}')
        self.sides, self.capacity, self.max_age_ns = sides, capacity, max_age_ns
        self.waiting: dict[str, dict[int, Any]] = {s: {} for s in sides}
        self.evicted: collections.Counter[str] = collections.Counter()
        self.paired = 0
        self.newest_ns: int | None = None

    def add(self, side: str, stamp_ns: int, item: Any) -> Added:
        """Offer one message; the pair is (first side's item, second side's item)."""
        if side not in self.waiting:
            raise ValueError(f'unknown side {side!r} (expected one of {self.sides})')
        other = self.sides[1 - self.sides.index(side)]
        out = Added()
        self.newest_ns = stamp_ns if self.newest_ns is None else max(self.newest_ns, stamp_ns)
        if stamp_ns in self.waiting[other]:
            partner = self.waiting[other].pop(stamp_ns)
            self.paired += 1
            out.pair = (item, partner) if side == self.sides[0] else (partner, item)
        else:
            if stamp_ns in self.waiting[side]:
                out.evicted.append(self._evict(side, stamp_ns, 'duplicate'))
            self.waiting[side][stamp_ns] = item
            if len(self.waiting[side]) > self.capacity:
                out.evicted.append(self._evict(side, min(self.waiting[side]), 'unpaired'))
        out.evicted += self._evict_old()
        return out

    def _evict_old(self) -> list[Eviction]:
        limit = self.newest_ns - self.max_age_ns
        stale = [(s, t) for s in self.sides for t in self.waiting[s] if t < limit]
        return [self._evict(s, t, 'unpaired') for s, t in sorted(stale, key=lambda e: e[1])]

    def _evict(self, side: str, stamp_ns: int, reason: str) -> Eviction:
        del self.waiting[side][stamp_ns]
        e = Eviction(side, stamp_ns, reason)
        self.evicted[e.code] += 1
        return e

    def __len__(self) -> int:
        """Messages waiting on both sides together."""
        return sum(len(w) for w in self.waiting.values())
