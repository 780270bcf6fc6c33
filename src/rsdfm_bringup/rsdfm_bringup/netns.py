"""Build, operate, read and remove the network of a NetPlan with ip and tc (needs root).

`FleetNetwork.create()` builds the namespaces, bridge and shaped links; `destroy()` ends every
process still inside the run's namespaces and deletes them, which deletes the links too. It
runs to the end whatever fails on the way and may be called any number of times, so callers
put it in a `finally`. Byte counters are read from the outside with `ip -s -j link`.
"""
from __future__ import annotations

from dataclasses import dataclass
import json
import os
import signal
import subprocess

from rsdfm_bringup.net_plan import (DRONE_IF, link_command, NETNS_PREFIX, NetPlan, setup_commands,
                                    shaping_commands, teardown_commands)


class NetworkError(RuntimeError):
    """A command building or changing the run's network failed; the message names it."""


@dataclass(frozen=True)
class InterfaceStats:
    rx_bytes: int
    rx_packets: int
    tx_bytes: int
    tx_packets: int
    tx_dropped: int


@dataclass(frozen=True)
class LinkCounters:
    """A drone link's counters: its drone end (`drone`) and its bridge end (`ground`)."""

    drone: InterfaceStats
    ground: InterfaceStats


def parse_interface_stats(text: str) -> InterfaceStats:
    """Read the counters in `ip -s -j link show dev X` output."""
    stats = json.loads(text)[0]['stats64']
    rx, tx = stats['rx'], stats['tx']
    return InterfaceStats(int(rx['bytes']), int(rx['packets']), int(tx['bytes']),
                          int(tx['packets']), int(tx.get('dropped', 0)))


def _run(cmd: list[str], timeout: float = 20.0) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def run_namespaces(prefix: str = NETNS_PREFIX) -> list[str]:
    """Network namespaces whose name starts with `prefix` (default: those of any fleet-net run)."""
    out = _run(['ip', '-j', 'netns', 'list']).stdout.strip()
    names = [e['name'] for e in (json.loads(out) if out else [])]
    return sorted(n for n in names if n.startswith(prefix))


def namespace_pids(netns: str) -> list[int]:
    """List the processes living in `netns`."""
    return [int(p) for p in _run(['ip', 'netns', 'pids', netns]).stdout.split()]


class FleetNetwork:
    """The namespaces and links of one run."""

    def __init__(self, plan: NetPlan) -> None:
        self.plan = plan
        self.created = False

    def create(self) -> None:
        """Build the network; on any failure remove what was built and raise NetworkError."""
        self.created = True
        for cmd in setup_commands(self.plan):
            proc = _run(cmd)
            if proc.returncode != 0:
                self.destroy()
                raise NetworkError(f'{" ".join(cmd)} failed: {proc.stderr.strip()}')

    def destroy(self) -> list[str]:
        """End the processes left in the run's namespaces and delete the namespaces.

        Returns what it had to force or could not do.
        """
        problems = []
        existing = set(run_namespaces(f'{NETNS_PREFIX}{self.plan.run_id}-'))
        for ns in self.plan.namespaces:
            if ns not in existing:
                continue
            for pid in namespace_pids(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                    problems.append(f'killed process {pid} left in {ns}')
                except ProcessLookupError:
                    pass
        for cmd in teardown_commands(self.plan):
            if cmd[-1] in existing:
                proc = _run(cmd)
                if proc.returncode != 0:
                    problems.append(f'{" ".join(cmd)}: {proc.stderr.strip()}')
        return problems

    def shape(self, scaled: bool) -> None:
        """Shape the links to their real rate, or to the replay's scaled rate."""
        for cmd in shaping_commands(self.plan, scaled):
            proc = _run(cmd)
            if proc.returncode != 0:
                raise NetworkError(f'{" ".join(cmd)} failed: {proc.stderr.strip()}')

    def set_link(self, drone: str, up: bool) -> None:
        proc = _run(link_command(self.plan, drone, up))
        if proc.returncode != 0:
            raise NetworkError(f'link of {drone} {"up" if up else "down"}: {proc.stderr.strip()}')

    def interface_stats(self, netns: str, device: str) -> InterfaceStats:
        proc = _run(['ip', '-n', netns, '-s', '-j', 'link', 'show', 'dev', device])
        if proc.returncode != 0:
            raise NetworkError(f'counters of {device} in {netns}: {proc.stderr.strip()}')
        return parse_interface_stats(proc.stdout)

    def counters(self) -> dict[str, LinkCounters]:
        """Every drone link's counters now."""
        return {d.name: LinkCounters(self.interface_stats(d.netns, DRONE_IF),
                                     self.interface_stats(self.plan.ground_netns, d.ground_if))
                for d in self.plan.drones}
