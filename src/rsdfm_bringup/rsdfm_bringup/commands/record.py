"""`rsdfm record`: record ROS topics into a rosbag2 MCAP bag until Ctrl-C (or --duration)."""
from __future__ import annotations

import argparse
import sys
import time

from rsdfm_core.cli import UserError

HELP = 'record ROS topics into a rosbag2 MCAP bag, like ros2 bag record'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--out', '-o', required=True, help='bag directory to create (must not exist)'
    )
    parser.add_argument(
        'topics', nargs='*', help='topics to record (default: every topic, found at run time)'
    )
    parser.add_argument(
        '--duration', type=float, default=0.0, help='stop after SECONDS (default: until Ctrl-C)'
    )


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from rsdfm_bringup.recorder import BagRecorder

    if args.duration < 0:
        raise UserError(f'--duration must be >= 0, got {args.duration}')
    from rsdfm_bringup.dds import use_rsdfm_dds_profile
    use_rsdfm_dds_profile()
    rclpy.init()
    node = rclpy.create_node('rsdfm_record')
    recorder = None
    try:
        try:
            recorder = BagRecorder(node, args.out, topics=args.topics or None)
        except (FileExistsError, OSError) as exc:
            raise UserError(str(exc)) from None
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        end = time.monotonic() + args.duration if args.duration else None
        print(f'record: writing {args.out}; Ctrl-C stops', file=sys.stderr)
        while rclpy.ok() and (end is None or time.monotonic() < end):
            executor.spin_once(timeout_sec=0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if recorder is not None:
            recorder.close()
            print(
                f'record: {sum(recorder.counts.values())} messages on {len(recorder.counts)} '
                f'topics -> {args.out}',
                file=sys.stderr,
            )
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
