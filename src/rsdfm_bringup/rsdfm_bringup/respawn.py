"""When to bring a crashed node back: exponential back-off, reset once a node has run a while.

ROS-free and clock-injected, so the policy is unit-tested without processes. A node that exits
with SETTINGS_EXIT (2: a parameter it cannot run with, see rsdfm_ros.node_support.run_node) is
not respawned: the same settings would fail again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SETTINGS_EXIT = 2


@dataclass
class Backoff:
    """Delay before the next restart of each node.

    It starts at initial, doubling per crash up to maximum; a node that ran for `stable` seconds
    before crashing starts again from `initial`.
    """

    initial: float = 0.5
    maximum: float = 30.0
    stable: float = 30.0
    delays: dict[str, float] = field(default_factory=dict)

    def next_delay(self, name: str, ran_for: float) -> float:
        """Return the delay before restarting `name`, which crashed after running ran_for s."""
        previous = self.delays.get(name)
        delay = self.initial if previous is None or ran_for >= self.stable else min(
            self.maximum, previous * 2.0)
        self.delays[name] = delay
        return delay


def should_respawn(returncode: int | None) -> bool:
    """Return True for a crash (signal or error); False for bad settings (exit 2) or running."""
    return returncode is not None and returncode != SETTINGS_EXIT
