"""`rsdfm run`: start the fleet graph as separate processes (ros2 launch without launch_ros)."""
from __future__ import annotations

import argparse
import signal
import sys
import time

import yaml

from rsdfm_core.cli import UserError
from rsdfm_core.graph import fleet_graph, GraphError, GROUND_STATION_LAYOUTS

HELP = 'start the fleet graph (perception per drone, fusion, task nodes) as separate processes'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--drones',
        type=int,
        default=None,
        help='number of drones, namespaces uav1..uavN (default from config/fleet.yaml)',
    )
    parser.add_argument(
        '--namespaces',
        default=None,
        help='explicit drone namespaces, e.g. uav1,uav3 (overrides --drones)',
    )
    parser.add_argument(
        '--tasks',
        default=None,
        help='new BEV tasks, one task_node each: road,building or parking=HEAD_FILE '
        '(a head from rsdfm train-head)',
    )
    parser.add_argument(
        '--weights',
        default=None,
        help='model checkpoint for every node (default: shipped weights)',
    )
    add_ground_station_argument(parser)
    parser.add_argument(
        '--params-file', default=None, help='node parameters file (default config/rsdfm.yaml)'
    )
    parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                        help='parameter override for every node (repeatable), e.g. threads=1')
    parser.add_argument(
        '--log-dir',
        default=None,
        help="write each node's output to DIR/<node>.log instead of the terminal",
    )
    parser.add_argument('--no-respawn', action='store_true',
                        help='stop the graph when a node crashes instead of restarting the node '
                             '(default: restart after a back-off of 0.5 s, doubling up to 30 s)')
    parser.add_argument('--cold-start', action='store_true',
                        help='start every node as a fresh `python -m` process instead of forking '
                             'it from a server that has imported torch already (slower start and '
                             'restart: about 3 s instead of 0.3 s per node here)')


def add_ground_station_argument(parser: argparse.ArgumentParser) -> None:
    """--ground-station separate|one_process, as the launch file's ground_station argument."""
    parser.add_argument(
        '--ground-station', choices=GROUND_STATION_LAYOUTS, default=None,
        help='separate: each central node its own process; one_process: all of them in one '
             'process, the fused map handed on in memory (default from config/fleet.yaml)')


def parse_param_overrides(items: list[str]) -> dict:
    """NAME=VALUE strings to a dict, values read as YAML scalars (1 -> int, true -> bool)."""
    out = {}
    for item in items:
        name, sep, value = item.partition('=')
        if not sep or not name.strip():
            raise UserError(f'--param wants NAME=VALUE, got {item!r}')
        try:
            out[name.strip()] = yaml.safe_load(value) if value else ''
        except yaml.YAMLError as exc:
            raise UserError(f'--param {item!r}: value is not a YAML scalar ({exc})') from None
    return out


def build_graph(args: argparse.Namespace):
    """Return the FleetGraph the arguments describe; bad arguments become UserError."""
    try:
        return fleet_graph(
            drones=args.drones,
            namespaces=args.namespaces,
            weights=args.weights,
            params_file=args.params_file,
            parameters=parse_param_overrides(args.param),
            tasks=args.tasks,
            ground_station=args.ground_station,
        )
    except GraphError as exc:
        raise UserError(str(exc)) from None


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from rsdfm_bringup.respawn import should_respawn
    from rsdfm_bringup.runner import GraphRunner

    graph = build_graph(args)
    signal.signal(signal.SIGTERM, _interrupt)   # stop the nodes on SIGTERM too, never orphan them
    runner = GraphRunner(graph, log_dir=args.log_dir, respawn=not args.no_respawn,
                         warm=not args.cold_start)
    print(
        f'rsdfm run: starting {len(graph.nodes)} nodes for drones {", ".join(graph.namespaces)}',
        file=sys.stderr,
    )
    runner.start()
    for name, proc in runner.processes.items():
        print(f'  {name:28s} pid {proc.pid}', file=sys.stderr)
    print('rsdfm run: Ctrl-C stops the graph', file=sys.stderr)
    code = 0
    try:
        while True:
            dead = {name: rc for name, rc in runner.exited().items()
                    if args.no_respawn or not should_respawn(rc)}
            if dead:
                print(f'rsdfm run: node(s) exited: {dead}; stopping the graph', file=sys.stderr)
                code = 1
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        print('rsdfm run: stopping', file=sys.stderr)
    runner.stop()
    return code
