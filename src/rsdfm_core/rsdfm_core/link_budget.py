"""A drone that fits its radio link: the codec budget from the bit rate the drone may send.

The link gives bits per second, the camera frames per second; what one map may take is their
ratio less the transport's share (RTPS, UDP and IP headers, fragmentation). The HLF codec then
keeps its bits and sends as many high-frequency cells as fit (HlfCodec.budget_for_bytes). The
frame rate is measured from the capture stamps, so a camera at 5 Hz gets twice the bytes per
map of one at 10 Hz on the same link.
"""
from __future__ import annotations

import collections
import statistics

DEFAULT_RATE_HZ = 10.0


class StampRate:
    """Return the frame rate of recent capture stamps (median interval, robust to a lost frame)."""

    def __init__(self, window: int = 20, default_hz: float = DEFAULT_RATE_HZ) -> None:
        self.stamps: collections.deque[int] = collections.deque(maxlen=window)
        self.default_hz = default_hz

    def add(self, stamp_ns: int) -> None:
        if not self.stamps or stamp_ns > self.stamps[-1]:
            self.stamps.append(int(stamp_ns))

    def hz(self) -> float:
        gaps = [b - a for a, b in zip(self.stamps, list(self.stamps)[1:]) if b > a]
        return 1e9 / statistics.median(gaps) if len(gaps) >= 2 else self.default_hz


def bytes_per_map(bitrate: float, rate_hz: float, overhead: float) -> int:
    """Return the payload bytes one map may take on a link of `bitrate` bit/s at rate_hz maps/s.

    `overhead` is the transport's share of what crosses the link (0.05 = 5 %).
    """
    if bitrate <= 0 or rate_hz <= 0:
        raise ValueError(f'bit rate and frame rate must be > 0, got {bitrate} and {rate_hz}')
    return int(bitrate / 8.0 / rate_hz * (1.0 - overhead))
