"""Whether a drone's radio link is up, as the ground station sees it (ROS-free).

Every drone node reports on /diagnostics once a second, across its link. A drone not heard for
`silence_s` is in an outage; the outage ends when it is heard again. Outages, the longest
silence and the time since last heard are what the ground station publishes per link, beside
the link interface's own carrier state and counters.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LinkHealth:
    """One drone link's outage count from when the drone was last heard (clock seconds)."""

    drone: str
    silence_s: float = 2.5
    heard_at: float | None = None
    outages: int = 0
    in_outage: bool = False
    longest_silence_s: float = 0.0

    def heard(self, now: float) -> bool:
        """Note that the drone spoke at `now`; True when that ended an outage."""
        ended = self.in_outage
        if self.heard_at is not None:
            self.longest_silence_s = max(self.longest_silence_s, now - self.heard_at)
        self.heard_at, self.in_outage = now, False
        return ended

    def check(self, now: float) -> bool:
        """Return True when an outage starts at `now` (silent for silence_s since heard)."""
        if self.heard_at is None or self.in_outage or now - self.heard_at < self.silence_s:
            return False
        self.in_outage = True
        self.outages += 1
        return True

    def silent_s(self, now: float) -> float:
        """Seconds since last heard (inf before the first time)."""
        return float('inf') if self.heard_at is None else now - self.heard_at


def drone_of_status(name: str, drones: list[str]) -> str | None:
    """Return the drone a /diagnostics status belongs to ('/uav1/perception_node' -> 'uav1')."""
    head = name.strip('/').split('/')[0]
    return head if head in drones and '/' in name.strip('/') else None
