"""The one description of the rsdfm fleet graph, shared by the launch file and the runner.

config/fleet.yaml says which nodes run (one perception node per drone namespace, one copy of
each central node); this module expands it for a given fleet into `NodeSpec`s. Both
launch/fleet.launch.py (launch_ros, on a real ROS 2 install) and `rsdfm run` (plain
processes, where launch is not installable) read the same specs, so the fleet layout is
written down once. ROS-free: nothing here imports rclpy or launch.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
import os
from pathlib import Path
import re
from typing import Sequence

import yaml

_TASK = re.compile(r'^[a-z][a-z0-9_]*$')
GROUND_STATION_LAYOUTS = ('separate', 'one_process')
MEMBER_FLAG = '--node'       # starts one member node's arguments on a host process's command line
_NAMESPACE = re.compile(r'^/?[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*$')


class GraphError(ValueError):
    """A fleet description or argument that cannot describe a graph (bad namespace/count/file)."""


def config_dir() -> Path:
    """Return the directory holding fleet.yaml, rsdfm.yaml and rsdfm.rviz.

    That is $RSDFM_CONFIG_DIR, else the checkout's config/ above this file, else ./config.
    """
    env = os.environ.get('RSDFM_CONFIG_DIR')
    if env:
        return Path(env)
    for parent in [*Path(__file__).resolve().parents, Path.cwd()]:
        if (parent / 'config' / 'fleet.yaml').is_file():
            return parent / 'config'
    raise GraphError('cannot find config/fleet.yaml above rsdfm_core; set RSDFM_CONFIG_DIR')


@dataclass(frozen=True)
class NodeSpec:
    """One node process of the graph: what to run, in which namespace, with which parameters."""

    package: str
    executable: str
    name: str
    namespace: str = ''                       # '' = root; drones use '/uav1'
    parameters: dict = field(default_factory=dict)          # overrides, after the files
    params_files: tuple[str, ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()
    # a host process (the one-process ground station) runs these nodes; it has no own node
    members: tuple['NodeSpec', ...] = ()

    @property
    def module(self) -> str:
        """Python module whose main() runs the node (the console script of the same name)."""
        return f'{self.package}.{self.executable}'

    @property
    def full_name(self) -> str:
        """Fully qualified node name, e.g. /uav1/perception_node."""
        return f'{self.namespace}/{self.name}' if self.namespace else f'/{self.name}'

    def ros_arguments(self) -> list[str]:
        """Return the command-line arguments (`--ros-args ...`) for this node.

        They give the node its name, namespace and parameters. A host process gets each
        member's instead, as `--node EXECUTABLE <that node's ROS arguments>` (member_arguments
        reads them back): not under `--ros-args`, which would apply them to every node of it.
        """
        if self.members:
            return [word for m in self.members
                    for word in (MEMBER_FLAG, m.executable, *m.ros_arguments()[1:])]
        args = ['--ros-args', '-r', f'__node:={self.name}']
        if self.namespace:
            args += ['-r', f'__ns:={self.namespace}']
        for path in self.params_files:
            args += ['--params-file', str(path)]
        for key, value in self.parameters.items():
            args += ['-p', f'{key}:={_param_text(value)}']
        for src, dst in self.remappings:
            args += ['-r', f'{src}:={dst}']
        return args

    def with_parameters(self, extra: dict) -> 'NodeSpec':
        """Return this spec with `extra` parameters added (to every member of a host)."""
        return replace(self, parameters={**self.parameters, **extra},
                       members=tuple(m.with_parameters(extra) for m in self.members))


def member_arguments(argv: Sequence[str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Split a host process's arguments into its members and the rest.

    Returns [(executable, ['--ros-args', ...]), ...] from the `--node EXECUTABLE ...` groups
    that NodeSpec.ros_arguments wrote, and the other arguments (the process's own, e.g. a
    `--ros-args` that launch appends) in their order.
    """
    members: list[tuple[str, list[str]]] = []
    words, own = list(argv), []
    if '--ros-args' in words:          # from here on: the process's own ROS arguments
        cut = words.index('--ros-args')
        words, own = words[:cut], words[cut:]
    leading: list[str] = []
    for word in words:
        if word == MEMBER_FLAG:
            members.append(('', ['--ros-args']))
        elif not members:
            leading.append(word)
        elif not members[-1][0]:
            members[-1] = (word, members[-1][1])
        else:
            members[-1][1].append(word)
    if members and not members[-1][0]:
        raise GraphError(f'{MEMBER_FLAG} without an executable after it')
    rest = leading + own
    return members, rest


@dataclass(frozen=True)
class FleetGraph:
    """Every node process of one fleet, plus the shared files the launch file needs.

    `nodes` are the processes to start (a host process stands for its members); `ros_nodes`
    are the ROS nodes they run.
    """

    namespaces: tuple[str, ...]
    nodes: tuple[NodeSpec, ...]
    params_file: str
    rviz_config: str

    @property
    def ros_nodes(self) -> tuple[NodeSpec, ...]:
        """Every ROS node of the graph: the processes' nodes, a host's members in its place."""
        return tuple(m for spec in self.nodes for m in (spec.members or (spec,)))

    def fused_map_readers(self) -> int:
        """Count the processes that read /rsdfm/fused_bev over DDS (one process hands it on)."""
        return sum(1 for spec in self.nodes
                   if not spec.members and spec.package == 'rsdfm_fusion'
                   and spec.executable != 'fusion_node')

    def node(self, full_name: str) -> NodeSpec:
        """Return the node called e.g. '/uav2/perception_node' or '/fusion_node'."""
        for spec in (*self.nodes, *self.ros_nodes):
            if spec.full_name == full_name:
                return spec
        raise GraphError(
            f'no node {full_name!r} in the graph; have {[n.full_name for n in self.ros_nodes]}'
        )


def _param_text(value) -> str:
    """Return a parameter value as `-p` expects it (YAML scalar)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    text = yaml.safe_dump(value, width=1 << 30).strip()
    return text.removesuffix('...').strip()


def load_layout(path: str | Path | None = None) -> dict:
    """config/fleet.yaml as a dict, checked for the keys the graph needs."""
    path = Path(path) if path else config_dir() / 'fleet.yaml'
    try:
        layout = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise GraphError(f'cannot read fleet layout {path}: {exc}') from exc
    for key in ('drones', 'namespace_prefix', 'params_file', 'per_drone', 'central'):
        if key not in (layout or {}):
            raise GraphError(f'fleet layout {path} lacks the key {key!r}')
    layout['_dir'] = str(path.parent)
    return layout


def list_items(text: str) -> list[str]:
    """Split a list given as text ('a,b', '[a, b]', "['a', 'b']") into its items."""
    return [t for t in re.split(r'[\s,\[\]\'"]+', text) if t]


def drone_namespaces(drones: int | None = None, namespaces: str | Sequence[str] | None = None,
                     prefix: str = 'uav') -> list[str]:
    """Absolute drone namespaces: an explicit list ('uav1,uav3' or ['/a', 'b']) or uav1..uavN."""
    if namespaces:
        if isinstance(namespaces, str):
            namespaces = list_items(namespaces)
        out = []
        for ns in namespaces:
            if not _NAMESPACE.match(ns):
                raise GraphError(
                    f'bad drone namespace {ns!r}: use letters, digits and _ (e.g. uav1)'
                )
            out.append('/' + ns.strip('/'))
        if len(set(out)) != len(out):
            raise GraphError(f'drone namespaces repeat: {out}')
        return out
    if drones is None or int(drones) < 1:
        raise GraphError(f'the fleet needs at least one drone, got drones={drones}')
    return [f'/{prefix}{i}' for i in range(1, int(drones) + 1)]


def parse_tasks(tasks: str | Sequence[str] | None) -> list[tuple[str, str]]:
    """New-task nodes to add: 'road,building' or ['parking=heads/parking.pt'] -> [(task, head)].

    A task without '=FILE' uses its shipped head ('' here).
    """
    if not tasks:
        return []
    if isinstance(tasks, str):
        tasks = list_items(tasks)
    out = []
    for item in tasks:
        name, _, head = item.partition('=')
        if not _TASK.match(name):
            raise GraphError(f'bad task {item!r}: use NAME or NAME=HEAD_FILE, NAME of lower-case '
                             'letters, digits and _ (e.g. road)')
        out.append((name, head))
    if len({n for n, _ in out}) != len(out):
        raise GraphError(f'tasks repeat: {[n for n, _ in out]}')
    return out


def fleet_graph(drones: int | None = None, namespaces: str | Sequence[str] | None = None,
                weights: str | None = None, params_file: str | Path | None = None,
                parameters: dict | None = None, layout: dict | None = None,
                tasks: str | Sequence[str] | None = None,
                ground_station: str | None = None) -> FleetGraph:
    """Expand the fleet layout for one fleet.

    drones / namespaces: fleet size or explicit namespaces (defaults from fleet.yaml).
    weights: checkpoint given to every node (None = the nodes' default).
    params_file: parameters file for every node (None = config/rsdfm.yaml).
    parameters: extra overrides for every node, e.g. {'threads': 1}.
    tasks: new BEV tasks, one task_node each (<task>_task_node): see parse_tasks().
    ground_station: 'separate' (each central node its own process) or 'one_process' (all of
    them in one `ground_station` process, one executor, the fused map handed on in memory);
    None = fleet.yaml's `ground_station`, else separate.
    """
    layout = layout or load_layout()
    base = Path(layout['_dir'])
    if drones is None and not namespaces:
        drones = layout['drones']
    spaces = drone_namespaces(drones, namespaces, layout['namespace_prefix'])
    pfile = Path(params_file) if params_file else base / layout['params_file']
    if not pfile.is_file():
        raise GraphError(f'parameters file not found: {pfile}')
    overrides = dict(parameters or {})
    if weights:
        overrides['weights'] = str(weights)
    nodes: list[NodeSpec] = []

    def spec(entry: dict, namespace: str) -> NodeSpec:
        missing = {'package', 'executable'} - set(entry)
        if missing:
            raise GraphError(f'fleet layout node {entry} lacks {sorted(missing)}')
        return NodeSpec(
            entry['package'],
            entry['executable'],
            entry.get('name', entry['executable']),
            namespace,
            {**entry.get('parameters', {}), **overrides},
            (str(pfile),),
            tuple(tuple(r) for r in entry.get('remappings', [])),
        )

    for ns in spaces:
        nodes += [spec(e, ns) for e in layout['per_drone']]
    nodes += [spec(e, '') for e in layout['central']]
    for task, head in parse_tasks(tasks):
        nodes.append(spec({'package': 'rsdfm_fusion', 'executable': 'task_node',
                           'name': f'{task}_task_node',
                           'parameters': {'task': task, 'head': head}}, ''))
    layout_name = ground_station or layout.get('ground_station', 'separate')
    if layout_name not in GROUND_STATION_LAYOUTS:
        raise GraphError(f'ground_station must be one of {", ".join(GROUND_STATION_LAYOUTS)}, '
                         f'got {layout_name!r}')
    if layout_name == 'one_process':
        central = tuple(n for n in nodes if not n.namespace)
        nodes = [n for n in nodes if n.namespace]
        nodes.append(NodeSpec('rsdfm_fusion', 'ground_station', 'ground_station',
                              members=central))
    return FleetGraph(
        tuple(spaces),
        tuple(nodes),
        str(pfile),
        str(base / layout.get('rviz_config', 'rsdfm.rviz')),
    )
