"""When a fleet graph is connected end to end, so a replay loses no frame to DDS start-up.

Graph-level subscriber counts run ahead of DDS matching: a frame sent before a node matched its
input is lost. So besides the counts, every node must report on /diagnostics that all of its
subscriptions are matched with a publisher (`inputs_matched` k/n with k == n).
"""
from __future__ import annotations

from typing import Iterable

from rclpy.node import Node

from rsdfm_core.graph import FleetGraph


class GraphReadiness:
    """Watches /diagnostics on `node` and tells whether `graph` and a replay are connected."""

    def __init__(self, node: Node, graph: FleetGraph) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        from rsdfm_ros.qos import result_qos

        self.node = node
        self.graph = graph
        self.latest: dict[str, dict[str, str]] = {}     # node -> its newest /diagnostics values
        node.create_subscription(
            DiagnosticArray, '/diagnostics', self._on_diagnostics, result_qos(depth=100)
        )

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            self.latest[status.name] = {kv.key: kv.value for kv in status.values}

    @property
    def inputs_matched(self) -> dict[str, str]:
        """Return each node's newest `inputs_matched` (k/n) from /diagnostics."""
        return {name: v['inputs_matched'] for name, v in self.latest.items()
                if 'inputs_matched' in v}

    def all_inputs_matched(self, names: Iterable[str] | None = None) -> bool:
        """Every node of the graph (or those of `names`, full names) reads all its inputs.

        Each must have at least one input.
        """
        for name in (names if names is not None
                     else (spec.full_name for spec in self.graph.ros_nodes)):
            k, _, n = self.inputs_matched.get(name, '0/0').partition('/')
            if n in ('', '0') or k != n:
                return False
        return True

    def ready(self, replay, camera_topics: list[str]) -> bool:
        """Tell whether the graph and the replay are connected end to end.

        The replay's camera writers, the drones' features, the fused map and the detections all
        have their readers (node, recorder, this watcher), and every node reads all its inputs.
        """
        node = self.node
        # /tf and /tf_static have one reader per perception node (its TransformListener): all
        # of them must be matched, or a drone misses the first transforms and its first images
        drones = len(self.graph.namespaces)
        return (
            all(replay.matched(t) >= (drones if t in ('/tf', '/tf_static') else 1)
                for t in camera_topics)
            and all(
                node.count_subscribers(f'{ns}/rsdfm/bev_feature') >= 2
                for ns in self.graph.namespaces
            )
            # the task node processes and the recorder (in one process the map is handed on)
            and node.count_subscribers('/rsdfm/fused_bev') >= self.graph.fused_map_readers() + 1
            and node.count_subscribers('/rsdfm/detections') >= 2
            and self.all_inputs_matched()
        )
