"""`rsdfm replay`: play a rosbag2 bag into the ROS graph, stamps and rate honoured."""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from rsdfm_core.cli import UserError

HELP = 'play a rosbag2 (MCAP or sqlite3) bag into the ROS graph, like ros2 bag play'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('bag', help='rosbag2 directory (with metadata.yaml)')
    parser.add_argument(
        '--rate', type=float, default=1.0, help='playback speed factor (0.5 = half speed)'
    )
    parser.add_argument('--loop', action='store_true', help='play again and again until Ctrl-C')
    parser.add_argument('--topics', nargs='+', default=None, help='play only these topics')
    parser.add_argument(
        '--restamp',
        action='store_true',
        help='move header stamps so the bag starts now, making end-to-end latency from the image '
        'stamp measurable (at --rate below 1 it then also counts the replay falling behind)',
    )
    parser.add_argument(
        '--skew',
        action='append',
        default=[],
        metavar='NAMESPACE=SECONDS',
        help='shift the stamps of one namespace or topic, e.g. uav3=-2 for a clock 2 s behind '
        '(repeatable)',
    )
    parser.add_argument('--camera-qos', choices=('sensor_data', 'reliable'), default='sensor_data',
                        help='QoS of camera topics (default sensor_data, best effort)')
    parser.add_argument('--clock', type=float, nargs='?', const=40.0, default=0.0, metavar='HZ',
                        help='also publish the playback time on /clock, HZ times a second '
                             '(default 40), like ros2 bag play --clock: for nodes started with '
                             'use_sim_time:=true')
    parser.add_argument(
        '--wait-subscribers',
        type=float,
        default=0.0,
        metavar='SECONDS',
        help='first wait up to SECONDS until every camera image topic (or --wait-topic) has a '
        'subscriber',
    )
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='play what is readable of a cut or damaged bag, leaving out missing topics and '
        'message types rclpy does not know (said on stderr); without it such a bag is refused',
    )
    parser.add_argument(
        '--wait-topic',
        action='append',
        default=[],
        metavar='TOPIC',
        help='with --wait-subscribers: wait for subscribers on TOPIC instead (repeatable)',
    )


def parse_skew(items: list[str]) -> dict[str, float]:
    """['uav3=-2'] -> {'uav3': -2.0}, with a clear error for anything else."""
    out = {}
    for item in items:
        ns, sep, value = item.partition('=')
        try:
            if not sep or not ns.strip('/ '):
                raise ValueError
            out[ns.strip()] = float(value)
        except ValueError:
            raise UserError(
                f'--skew wants NAMESPACE=SECONDS (e.g. uav3=-2), got {item!r}'
            ) from None
    return out


def region_hint(bag: str) -> str:
    """Return how to fuse the region a bag records (rsdfm import writes one); '' if none."""
    from rsdfm_core.bag.source import custom_data
    from rsdfm_core.regions import region_fields, region_from_record, REGION_KEY
    record = custom_data(Path(bag)).get(REGION_KEY)
    if not record:
        return ''
    try:
        r = region_fields(region_from_record(record))
    except ValueError:
        return ''
    return (f'the bag records its scene region, {r["size_x"]:g} x {r["size_y"]:g} m around '
            f'({r["cx"]:g}, {r["cy"]:g}); a fusion node fuses the region of the model unless '
            f'given region_center_x:={r["cx"]:g} region_center_y:={r["cy"]:g} '
            f'region_size:={max(r["size_x"], r["size_y"]):g}')


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from rsdfm_bringup.replay import BagReplay, CLOCK_TOPIC, wait_for_subscribers
    from rsdfm_core.bag import BagError

    if args.rate <= 0:
        raise UserError(f'--rate must be > 0, got {args.rate}')
    skew = parse_skew(args.skew)
    from rsdfm_bringup.dds import use_rsdfm_dds_profile
    use_rsdfm_dds_profile()
    rclpy.init()
    node = rclpy.create_node('rsdfm_replay')
    try:
        try:
            replay = BagReplay(node, args.bag, rate=args.rate, loop=args.loop, topics=args.topics,
                               restamp=args.restamp, skew=skew, camera_qos_kind=args.camera_qos,
                               skip_bad=args.skip_bad, clock_hz=args.clock)
        except (FileNotFoundError, ValueError, LookupError) as exc:
            raise UserError(str(exc)) from None
        if args.wait_subscribers > 0:
            wanted = args.wait_topic or replay.input_topics
            if replay.writes(CLOCK_TOPIC):
                wanted = [*wanted, CLOCK_TOPIC]
            missing = wait_for_subscribers(node, wanted, args.wait_subscribers, replay)
            if missing:
                print(
                    f'replay: no subscriber after {args.wait_subscribers:g} s on {missing}; '
                    'playing anyway',
                    file=sys.stderr,
                )
        print(
            f'replay: {args.bag} at rate {args.rate:g}, {len(replay.topics)} topics',
            file=sys.stderr,
        )
        hint = region_hint(args.bag)
        if hint:
            print(f'replay: {hint}', file=sys.stderr)
        try:
            sent = replay.play()
        except BagError as exc:
            raise UserError(str(exc)) from None
        replay.flush()
        print(f'replay: done, {sent} messages', file=sys.stderr)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
