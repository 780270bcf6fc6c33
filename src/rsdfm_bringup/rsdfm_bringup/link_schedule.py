"""Scheduled radio outages of a fleet-net run: `--down uav2@5:10` (ROS-free).

`DRONE@START:END` takes the drone's link down START seconds after the replay's first frame and
brings it back at END. Times are wall-clock seconds of the run (not bag time): the fusion
node's timeouts and the recovery asked of it are wall-clock too.
"""
from __future__ import annotations

from dataclasses import dataclass
import re

_DOWN = re.compile(r'^(?P<drone>[A-Za-z][A-Za-z0-9_]*)@(?P<start>[0-9.]+):(?P<end>[0-9.]+)$')


@dataclass(frozen=True, order=True)
class LinkEvent:
    """At `at_s` seconds into the run, `drone`'s link goes up (True) or down (False)."""

    at_s: float
    drone: str
    up: bool


@dataclass(frozen=True)
class Outage:
    drone: str
    start_s: float
    end_s: float


def parse_outage(text: str, drones: list[str]) -> Outage:
    """'uav2@5:10' -> Outage('uav2', 5.0, 10.0); ValueError naming what is wrong."""
    m = _DOWN.match(text.strip())
    if not m:
        raise ValueError(f'--down wants DRONE@START:END in seconds (e.g. uav2@5:10), got {text!r}')
    drone, start, end = m['drone'], float(m['start']), float(m['end'])
    if drone not in drones:
        raise ValueError(f'--down {text}: no drone {drone!r} in this run ({", ".join(drones)})')
    if not end > start:
        raise ValueError(f'--down {text}: the link must come back after it went down')
    return Outage(drone, start, end)


def outage_schedule(items: list[str], drones: list[str]) -> list[Outage]:
    """Every --down, checked: one drone's outages must not overlap."""
    outages = sorted((parse_outage(t, drones) for t in items), key=lambda o: (o.drone, o.start_s))
    for a, b in zip(outages, outages[1:]):
        if a.drone == b.drone and b.start_s < a.end_s:
            raise ValueError(f'outages of {a.drone} overlap: {a.start_s:g}-{a.end_s:g} s and '
                             f'{b.start_s:g}-{b.end_s:g} s')
    return sorted(outages, key=lambda o: o.start_s)


def link_events(outages: list[Outage]) -> list[LinkEvent]:
    """List the down and up events of the outages in time order.

    A link comes up before another event at the same instant.
    """
    events = [e for o in outages
              for e in (LinkEvent(o.start_s, o.drone, False), LinkEvent(o.end_s, o.drone, True))]
    return sorted(events, key=lambda e: (e.at_s, not e.up, e.drone))


def schedule_span(outages: list[Outage]) -> float:
    """Seconds into the run by which every scheduled link is back up (0 without outages)."""
    return max((o.end_s for o in outages), default=0.0)
