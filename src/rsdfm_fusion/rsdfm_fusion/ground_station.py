"""ground_station: the fusion node and the task nodes in one process, with one executor.

The ROS 2 way to put several nodes in one process, as a component container does: each member
is the same node class that runs in its own process otherwise, with its own name, namespace and
parameters, all spun by one executor. The fleet description (rsdfm_core.graph, `ground_station:
one_process`) writes each member's arguments as a `--node EXECUTABLE <its ROS arguments>` group:

    ground_station --node fusion_node -r __node:=fusion_node --params-file config/rsdfm.yaml
                   --node detection_node -r __node:=detection_node --params-file ...

What one process saves: the fusion node hands each fused map to the task nodes of the process
in memory (rsdfm_ros.fused_map_node), so it is not serialized, copied and decoded once per task
node; /rsdfm/fused_bev is still published while another process (a recorder) subscribes. The
nodes share one copy of the model. Each node keeps its own callback group and the executor has
a thread per node, so the task heads of one frame run while the fusion node fuses the next (torch
releases the GIL while it computes).
"""
from __future__ import annotations

import importlib
import sys

from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

from rsdfm_core.graph import GraphError, member_arguments
from rsdfm_ros.node_support import run_nodes, SettingError

# the node classes a ground station can host: executable -> module:class
MEMBER_CLASSES = {
    'fusion_node': 'rsdfm_fusion.fusion_node:FusionNode',
    'detection_node': 'rsdfm_fusion.detection_node:DetectionNode',
    'segmentation_node': 'rsdfm_fusion.segmentation_node:SegmentationNode',
    'trajectory_node': 'rsdfm_fusion.trajectory_node:TrajectoryNode',
    'task_node': 'rsdfm_fusion.task_node:TaskNode',
}


def member_class(executable: str) -> type[Node]:
    """Return the node class of a member executable; SettingError names the ones there are."""
    target = MEMBER_CLASSES.get(executable)
    if target is None:
        raise SettingError(f'ground_station cannot host {executable!r}: it hosts '
                           f'{", ".join(MEMBER_CLASSES)}')
    module, _, cls = target.partition(':')
    return getattr(importlib.import_module(module), cls)


def build_members(members: list[tuple[str, list[str]]], nodes: list[Node]) -> None:
    """Create the member nodes (the fusion node first) into `nodes`.

    Each member gets only its own ROS arguments; the task nodes are handed the fusion node's
    maps when there is one.
    """
    if not members:
        raise SettingError('no member nodes: give at least one --node EXECUTABLE [ROS arguments]')
    ordered = sorted(members, key=lambda m: m[0] != 'fusion_node')
    fusion = None
    for executable, ros_args in ordered:
        options = {'cli_args': ros_args, 'use_global_arguments': False}
        if executable != 'fusion_node' and fusion is not None:
            options['fused_source'] = fusion
        node = member_class(executable)(**options)
        nodes.append(node)
        if executable == 'fusion_node':
            fusion = node


def main(args=None) -> int:
    argv = list(sys.argv if args is None else args)
    try:
        members, rest = member_arguments(argv[1:])
    except GraphError as exc:
        print(f'ground_station: error: {exc}', file=sys.stderr)
        return 2
    return run_nodes('ground_station', lambda nodes: build_members(members, nodes),
                     [argv[0], *rest],
                     executor_factory=lambda n: MultiThreadedExecutor(num_threads=n + 1))


if __name__ == '__main__':
    raise SystemExit(main())
