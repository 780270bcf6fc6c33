"""GraphRunner whose node processes each start inside a network namespace.

Drone nodes (namespace /uavN) run in that drone's namespace, central nodes in the ground
station's, so every message between them crosses the drone's radio link.
"""
from __future__ import annotations

from pathlib import Path

from rsdfm_bringup.net_plan import exec_prefix, NetPlan
from rsdfm_bringup.runner import GraphRunner
from rsdfm_core.graph import FleetGraph, NodeSpec


def node_netns(plan: NetPlan, spec: NodeSpec) -> str:
    """Return the namespace a node runs in: its drone's, or the ground's for central nodes."""
    drone = spec.namespace.strip('/')
    return plan.drone(drone).netns if drone else plan.ground_netns


class NamespacedRunner(GraphRunner):
    """Runs each node of `graph` as `ip netns exec <its namespace> python -m ...`."""

    def __init__(self, graph: FleetGraph, plan: NetPlan, log_dir: str | Path | None = None,
                 env: dict | None = None) -> None:
        super().__init__(graph, log_dir=log_dir, env=env)
        self.plan = plan

    def command(self, spec: NodeSpec, module: str | None = None,
                argv: list[str] | None = None) -> list[str]:
        return exec_prefix(node_netns(self.plan, spec)) + super().command(spec, module, argv)
