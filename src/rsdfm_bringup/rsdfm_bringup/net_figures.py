"""Figures of a fleet-net run per drone link and per outage (ROS-free).

Wire bytes are the link interfaces' counters over the replay (Ethernet frames: every header,
retransmission, heartbeat, discovery and /diagnostics message included); payload bytes and
maps sent are the drone's own count (its perception node's /diagnostics: `published`,
`bytes_out`). A map is fused when a fused map lists the drone among its agents. Latency is
from the drone's image going out to the detections of that frame arriving at the recorder.
"""
from __future__ import annotations

from dataclasses import dataclass
import statistics

from rsdfm_bringup.link_schedule import LinkEvent
from rsdfm_bringup.netns import LinkCounters


@dataclass(frozen=True)
class LinkBytes:
    """Bytes through one drone link over the run, each direction."""

    up_sent: int        # left the drone (its interface's tx)
    up_received: int    # reached the ground station's bridge (its end's rx)
    down_sent: int      # left the ground station towards the drone
    up_packets: int


def link_bytes(before: LinkCounters, after: LinkCounters) -> LinkBytes:
    return LinkBytes(after.drone.tx_bytes - before.drone.tx_bytes,
                     after.ground.rx_bytes - before.ground.rx_bytes,
                     after.ground.tx_bytes - before.ground.tx_bytes,
                     after.drone.tx_packets - before.drone.tx_packets)


def _median_ms(values_ns: list[int]) -> float:
    return statistics.median(values_ns) / 1e6 if values_ns else float('nan')


def fused_stamps(fused_agents: dict[int, list[str]], drone: str) -> list[int]:
    """Stamps (as published) of the fused maps that hold the drone's map, in order."""
    return sorted(s for s, agents in fused_agents.items() if drone in agents)


def drone_figures(drone: str, moved: LinkBytes, diagnostics: dict[str, str],
                  fused_agents: dict[int, list[str]], receive_ns: dict[int, int],
                  sent_at: dict[int, int], offset_ns: int) -> dict:
    """Return one drone's figures.

    Maps sent and fused, payload and wire bytes per map, latency, and the codec budget of its
    last map.
    """
    sent = int(diagnostics.get('published', 0))
    payload = int(diagnostics.get('bytes_out', 0))
    fused = fused_stamps(fused_agents, drone)
    latency = [receive_ns[s] - sent_at[s - offset_ns] for s in fused
               if s in receive_ns and s - offset_ns in sent_at]
    per_map = moved.up_sent / sent if sent else float('nan')
    payload_per_map = payload / sent if sent else float('nan')
    return {'maps_sent': sent, 'maps_fused': len(fused),
            'payload_bytes_per_map': payload_per_map, 'wire_bytes_per_map': per_map,
            'wire_to_payload': per_map / payload_per_map if sent and payload else float('nan'),
            'wire_bytes_up': moved.up_sent, 'wire_bytes_up_received': moved.up_received,
            'wire_bytes_down': moved.down_sent, 'wire_packets_up': moved.up_packets,
            'latency_ms_median': _median_ms(latency),
            'codec_budget': diagnostics.get('budget', '')}


def _gaps(times_ns: list[int], start_ns: int, end_ns: int) -> list[float]:
    """Intervals (s) between consecutive times of which at least one lies in [start, end]."""
    return [(b - a) / 1e9 for a, b in zip(times_ns, times_ns[1:])
            if start_ns <= b and a <= end_ns]


def outage_figures(down: tuple[LinkEvent, int], up: tuple[LinkEvent, int], drones: list[str],
                   fused_agents: dict[int, list[str]], receive_ns: dict[int, int],
                   sent_at: dict[int, int], offset_ns: int) -> dict:
    """Tell how the ground station rode out one outage.

    When the drone was fused again after its link came back, and the longest pause in the
    other drones' fused maps while it was away (and before, for comparison). receive_ns: when
    each fused map (by stamp) was recorded; sent_at: when the drone's image of each bag stamp
    went out.

    fused_again_after_s: link up -> the first fused map holding the drone recorded (all the
    pipeline's latency included); fused_again_image_after_s: link up -> when the image of that
    map went out, i.e. from when on the drone's camera counts again.
    """
    drone, down_ns, up_ns = down[0].drone, down[1], up[1]
    back = sorted(s for s in fused_stamps(fused_agents, drone)
                  if s in receive_ns and receive_ns[s] > up_ns)
    image_back = sent_at.get(back[0] - offset_ns) if back else None
    others = {}
    for other in (d for d in drones if d != drone):
        times = sorted(receive_ns[s] for s in fused_stamps(fused_agents, other) if s in receive_ns)
        during = _gaps(times, down_ns, up_ns)
        before = _gaps([t for t in times if t < down_ns], 0, down_ns)
        others[other] = {'max_gap_s': max(during, default=float('nan')),
                         'max_gap_before_s': max(before, default=float('nan')),
                         'frames_fused_during': sum(down_ns <= t <= up_ns for t in times)}
    return {'drone': drone, 'down_at_s': down[0].at_s, 'up_at_s': up[0].at_s,
            'down_s': (up_ns - down_ns) / 1e9,
            'fused_again_after_s': (receive_ns[back[0]] - up_ns) / 1e9 if back else float('nan'),
            'fused_again_image_after_s': ((image_back - up_ns) / 1e9 if image_back is not None
                                          else float('nan')),
            'others': others}


def pair_outages(events: list[tuple[LinkEvent, int]]) -> list[tuple[tuple, tuple]]:
    """(down, up) pairs of the events done, per drone, in order."""
    pairs, open_down = [], {}
    for event, wall in events:
        if not event.up:
            open_down[event.drone] = (event, wall)
        elif event.drone in open_down:
            pairs.append((open_down.pop(event.drone), (event, wall)))
    return pairs
