"""One drone's camera, played from a bag inside the drone's network namespace (fleet-net).

`python -m rsdfm_bringup.drone_replay --bag BAG --drone uav1 --rate R --sent-at OUT.json`
plays the drone's camera topics (image, camera info, pose) restamped, so they reach its
perception node over the drone's own loopback and never cross the radio link. It talks to
the fleet-net process over its standard streams: it prints `ready` once every camera topic
has its reader, waits for `go <wall ns>` (the same start for every drone, so all share one
restamp offset), plays, writes when each frame went out to OUT.json, prints `done` and stays
until its input ends: a node leaving the graph announces the end of each of its endpoints to
every participant, traffic that must not land in the run's link figures.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import threading
import time

import rclpy

from rsdfm_bringup.replay import BagReplay

CAMERA_LEAVES = ('camera/image_raw', 'camera/camera_info', 'camera/pose')


def drone_topics(drone: str) -> list[str]:
    """Return the topics a drone's camera replay plays."""
    return [f'/{drone}/{leaf}' for leaf in CAMERA_LEAVES]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--bag', required=True)
    p.add_argument('--drone', required=True, help='drone namespace without slash, e.g. uav1')
    p.add_argument('--rate', type=float, default=1.0)
    p.add_argument('--sent-at', required=True, help='JSON file: restamp offset, frame send times')
    p.add_argument('--camera-qos', default='reliable', choices=('sensor_data', 'reliable'))
    return p.parse_args(argv)


def wait_for_go(replay: BagReplay, topics: list[str]) -> int | None:
    """Say `ready` once every topic has a reader, then the start time from `go`; None at EOF."""
    while not all(replay.matched(t) > 0 for t in topics):
        time.sleep(0.1)
    print('ready', flush=True)
    for line in sys.stdin:
        word, _, value = line.strip().partition(' ')
        if word == 'go':
            return int(value)
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rclpy.init()
    node = rclpy.create_node(f'{args.drone}_camera_replay')
    stop = threading.Event()
    try:
        topics = drone_topics(args.drone)
        replay = BagReplay(node, args.bag, rate=args.rate, topics=topics, restamp=True,
                           camera_qos_kind=args.camera_qos)
        start = wait_for_go(replay, topics)
        if start is None:
            return 0
        replay.play(stop, progress=False, start_wall_ns=start)
        replay.flush()
        sent_at = {str(k): v for k, v in replay.sent_at.items()}
        Path(args.sent_at).write_text(json.dumps({'offset_ns': replay.offset_ns,
                                                  'sent_at': sent_at}))
        print(f'done {replay.published}', flush=True)
        sys.stdin.read()
    except KeyboardInterrupt:
        stop.set()
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
