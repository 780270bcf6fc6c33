"""`rsdfm fleet-net`: the fleet graph across network namespaces joined by shaped radio links."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import shutil
import signal

from rsdfm_bringup.commands.run import parse_param_overrides
from rsdfm_bringup.fleet_net_session import FleetNetError, FleetNetOptions, run_fleet_net
from rsdfm_bringup.link_schedule import outage_schedule
from rsdfm_bringup.net_plan import LinkSpec
from rsdfm_bringup.netns import NetworkError
from rsdfm_core.bag import BagSource
from rsdfm_core.cli import UserError
from rsdfm_core.commands.evaluate import json_safe
from rsdfm_core.graph import drone_namespaces, GraphError

HELP = ('run a bag through the fleet with every drone on its own network host, joined to the '
        'ground station by a rate-limited radio link (needs root)')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--bag', required=True, help='simulated bag (rsdfm simulate)')
    parser.add_argument('--drones', default=None,
                        help='drones to fly, e.g. uav1,uav2 (default: every camera in the bag)')
    parser.add_argument('--link-mbit', type=float, default=5.0,
                        help='radio link rate per drone and direction, Mbit/s (default 5)')
    parser.add_argument('--burst-kb', type=float, default=8.0,
                        help='bytes a link may send at once above its rate, KiB (default 8)')
    parser.add_argument('--queue-ms', type=float, default=250.0,
                        help='longest a packet waits in a link queue before it is dropped, ms of '
                             'real time (default 250)')
    parser.add_argument('--rate', type=float, default=0.25,
                        help='replay speed; link rates and queues scale with it (default 0.25)')
    parser.add_argument('--down', action='append', default=[], metavar='DRONE@START:END',
                        help='take a link down START s after the first frame, back up at END '
                             '(wall clock; repeatable), e.g. uav2@5:10')
    parser.add_argument('--no-fit', dest='fit', action='store_false',
                        help="leave the drones' codec budget alone instead of fitting it to the "
                             'link (max_bitrate 0): shows what a too narrow link does')
    parser.add_argument('--link-overhead', type=float, default=None,
                        help='share of the link the codec budget leaves to headers, /diagnostics '
                             'and discovery (default: from the link and replay rates)')
    parser.add_argument('--map-lifespan', type=float, default=1.5, metavar='FRAMES',
                        help="frame periods a drone's map may take to cross its link before the "
                             'drone drops it as stale (default 1.5)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                        help='parameter override for every node (repeatable)')
    parser.add_argument('--out', default='out/fleet_net', help='output directory')
    parser.add_argument('--json', default=None, metavar='OUT', help='write the figures as JSON')


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def bag_drones(bag: Path) -> list[str]:
    """Drones with a camera in the bag (namespaces without slash)."""
    suffix = '/camera/image_raw'
    return sorted(t[1:-len(suffix)] for t in BagSource(bag).topics
                  if t.endswith(suffix) and t.count('/') == 3)


def options(args: argparse.Namespace) -> FleetNetOptions:
    """Turn the arguments into FleetNetOptions; UserError for anything wrong."""
    bag = Path(args.bag)
    if not (bag / 'metadata.yaml').is_file():
        raise UserError(f'no rosbag2 bag at {bag}')
    try:
        drones = ([d.strip('/') for d in drone_namespaces(namespaces=args.drones)]
                  if args.drones else bag_drones(bag))
        link = LinkSpec(args.link_mbit, int(args.burst_kb * 1024), args.queue_ms)
        outages = outage_schedule(args.down, drones)
    except (GraphError, ValueError) as exc:
        raise UserError(str(exc)) from None
    if not drones:
        raise UserError(f'{bag} has no camera topics /<drone>/camera/image_raw')
    overhead_ok = args.link_overhead is None or 0 <= args.link_overhead < 1
    if args.rate <= 0 or not overhead_ok or args.map_lifespan <= 0:
        raise UserError('--rate and --map-lifespan must be > 0, --link-overhead in [0, 1)')
    return FleetNetOptions(bag, drones, Path(args.out), link, args.rate, outages, args.fit,
                           args.link_overhead, args.map_lifespan,
                           parse_param_overrides(args.param))


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise UserError('needs root: it creates network namespaces, veth links and tc queues '
                        '(run it as root, e.g. with sudo)')
    missing = [tool for tool in ('ip', 'tc') if shutil.which(tool) is None]
    if missing:
        raise UserError(f'needs {" and ".join(missing)} (iproute2) on PATH')
    opts = options(args)
    # the scoring loads the model code (torch): only when a run is scored, not for rsdfm --help
    from rsdfm_bringup.fleet_net_report import fleet_net_figures, summary_lines

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)   # clean up the namespaces on these too
    try:
        result = run_fleet_net(opts)
    except (FleetNetError, NetworkError) as exc:
        raise UserError(str(exc)) from None
    figures = fleet_net_figures(result, opts)
    print('\n'.join(summary_lines(figures)))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(json_safe(figures), indent=2) + '\n')
    return 0 if figures['frames_with_detections'] > 0 else 1
