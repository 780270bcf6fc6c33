"""When the fusion node fuses what: the frame scheduling of a drone fleet, free of ROS.

Maps arrive as (agent, stamp, item), item being whatever the caller fuses later (the node
passes the message). A drone is live while it sent an accepted map within `drone_timeout` s;
a drone that comes back is live again; the caller forgets one gone for good (forget()). The
fleet clock is the upper median of the drones' newest stamps, so one bad clock does not move
it. A map further than `max_skew` from the fleet clock is refused ('stamp_skew'), except that a
map may be ahead of it by the wall time since the fleet last sent anything: after a radio gap
the first map back is simply newer. A map at or before a stamp already fused (within `window`)
is refused ('late').

Each accepted map whose stamp is not within `window` of a waiting one starts a reference
stamp. A reference is fused, oldest first, with the newest map of each live drone within
`window` of it, once every live drone has one and no newly found drone is still to send, or
once it waited `max_wait` s of wall time, or once the fleet clock left it more than `max_skew`
behind (a frame waiting for a lost map is fused with what came rather than dropped). Fusing a
reference retires every reference up to it and the maps too old to be fused any more.

Times are seconds of a monotonic clock (injected: tests drive a fake one), stamps nanoseconds.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
import time
from typing import Any, Callable, Iterator

from rsdfm_core.validation import Refusal

# > (max_wait + max_skew) x rate: a frame waiting for a lost map keeps the other maps
MAX_MAPS_PER_DRONE = 64


@dataclass
class Drone:
    """What the scheduler knows about one drone."""

    agent_id: str
    max_maps: int = MAX_MAPS_PER_DRONE
    last_accepted: float | None = None   # clock time of the last accepted (or late) map
    last_stamp: int = 0                  # newest stamp received (accepted or not); 0 = none yet
    live: bool = False                   # as of the last refresh_liveness()
    # (stamp, item) not fused yet: pruned as references are fused; the bound only guards a flood
    maps: collections.deque = field(init=False)

    def __post_init__(self) -> None:
        self.maps = collections.deque(maxlen=self.max_maps)


@dataclass(frozen=True)
class ReadyFrame:
    """A reference stamp to fuse now and the map of each drone that joins it."""

    stamp_ns: int
    maps: dict[str, Any]


class FusionScheduler:
    """Gathers the drones' maps into frames; says which map is refused and which frame is ready."""

    def __init__(self, window_ns: int, max_wait: float, max_skew_ns: int, drone_timeout: float,
                 clock: Callable[[], float] = time.monotonic,
                 max_maps: int = MAX_MAPS_PER_DRONE) -> None:
        self.window_ns = int(window_ns)
        self.max_wait = float(max_wait)
        self.max_skew_ns = int(max_skew_ns)
        self.drone_timeout = float(drone_timeout)
        self.clock = clock
        self.max_maps = int(max_maps)
        self.drones: dict[str, Drone] = {}
        self.pending: dict[int, float] = {}      # reference stamp -> clock time first seen
        self.last_fused: int | None = None       # newest reference stamp fused
        self.clock_seen_at = clock()             # when a map last moved the fleet clock

    # --- input --------------------------------------------------------------------------
    def offer(self, agent: str, stamp_ns: int, item: Any) -> Refusal | None:
        """Take one map: None when accepted, else why ('stamp_skew' or 'late')."""
        now = self.clock()
        drone = self.drones.setdefault(agent, Drone(agent, self.max_maps))
        if drone.last_accepted is None:
            drone.last_stamp = stamp_ns
        else:
            drone.last_stamp = max(drone.last_stamp, stamp_ns)
        clock = self._fleet_clock(now)
        gap_ns = int(max(0.0, now - self.clock_seen_at) * 1e9)
        self.clock_seen_at = now
        skew = stamp_ns - clock if clock is not None else 0
        if not -self.max_skew_ns <= skew <= self.max_skew_ns + gap_ns:
            drone.last_stamp = stamp_ns
            return Refusal('stamp_skew', f'map from {agent} stamped {skew / 1e9:+.2f} s from the '
                                         f'fleet clock (max_skew {self.max_skew_ns / 1e9:g} s)')
        drone.last_accepted = now
        if self.last_fused is not None and stamp_ns <= self.last_fused + self.window_ns:
            return Refusal('late', f'map from {agent} at {stamp_ns / 1e9:.3f} arrived after that '
                                   'stamp was fused')
        drone.maps.append((stamp_ns, item))
        if not any(abs(stamp_ns - ref) <= self.window_ns for ref in self.pending):
            self.pending[stamp_ns] = now
        return None

    # --- drones -------------------------------------------------------------------------
    def refresh_liveness(self) -> list[tuple[str, bool]]:
        """(agent, live now) of each drone that joined or was dropped since the last call."""
        now = self.clock()
        changes = []
        for d in self.drones.values():
            live = self._is_live(d, now)
            if live != d.live:
                d.live = live
                changes.append((d.agent_id, live))
        return changes

    def forget(self, agent: str) -> None:
        """Drop all that is known of `agent` (gone for good): its next map makes it new again."""
        self.drones.pop(agent, None)

    def live_agents(self) -> list[str]:
        """Drones live as of the last refresh_liveness(), sorted."""
        return sorted(d.agent_id for d in self.drones.values() if d.live)

    def dropped_agents(self) -> list[str]:
        """Known drones not live as of the last refresh_liveness() (dropped or never accepted)."""
        return sorted(d.agent_id for d in self.drones.values() if not d.live)

    @property
    def has_pending(self) -> bool:
        """Whether a reference stamp waits to be fused."""
        return bool(self.pending)

    # --- frames -------------------------------------------------------------------------
    def ready_frames(self, new_drones_waiting: int = 0) -> Iterator[ReadyFrame]:
        """Yield the frames to fuse now, oldest first; each is retired as it is yielded.

        new_drones_waiting: drones found but silent so far (just started); while there are
        any, a frame is not complete and waits up to max_wait for them.
        """
        now = self.clock()
        live = [d for d in self.drones.values() if self._is_live(d, now)]
        clock = self._fleet_clock(now)
        for ref in sorted(self.pending):
            if ref not in self.pending:
                continue
            stale = clock is not None and clock - ref > self.max_skew_ns
            maps = self._maps_near(ref, live)
            complete = len(maps) == len(live) and not new_drones_waiting
            if not complete and not stale and self.clock() - self.pending[ref] < self.max_wait:
                return
            self._retire(ref)
            if maps:
                yield ReadyFrame(ref, maps)

    def next_ready(self, new_drones_waiting: int = 0) -> ReadyFrame | None:
        """Return the oldest frame to fuse now (retired), or None: one frame per call.

        A node fuses one frame per callback and takes its queued maps in between. Fusing a
        backlog of frames in one go would let the wall-clock max_wait of the frames behind run
        out while their maps wait, already received, in the node's own queues: they would be
        fused without those maps, which then arrive 'late'.
        """
        return next(self.ready_frames(new_drones_waiting), None)

    def _maps_near(self, ref: int, drones: list[Drone]) -> dict[str, Any]:
        """Return the newest map within window of `ref` of each drone that has one."""
        out = {}
        for d in drones:
            near = [(s, item) for s, item in d.maps if abs(s - ref) <= self.window_ns]
            if near:
                out[d.agent_id] = max(near, key=lambda sm: sm[0])[1]
        return out

    def _retire(self, ref: int) -> None:
        """Mark `ref` fused: drop it and older references, and maps too old to join a frame."""
        for old in [r for r in self.pending if r <= ref]:
            del self.pending[old]
        self.last_fused = ref
        oldest = ref - self.window_ns
        for d in self.drones.values():
            if d.maps and min(s for s, _ in d.maps) < oldest:
                d.maps = collections.deque(((s, m) for s, m in d.maps if s >= oldest),
                                           maxlen=self.max_maps)

    def _is_live(self, drone: Drone, now: float) -> bool:
        return drone.last_accepted is not None and now - drone.last_accepted <= self.drone_timeout

    def _fleet_clock(self, now: float) -> int | None:
        """Upper median of the newest stamps of drones not timed out; None before any stamp."""
        stamps = sorted(d.last_stamp for d in self.drones.values()
                        if d.last_stamp and (d.last_accepted is None
                                             or now - d.last_accepted <= self.drone_timeout))
        return stamps[len(stamps) // 2] if stamps else None
