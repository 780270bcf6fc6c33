"""Subscriber process for cross-process message tests: prints what it receives as JSON lines.

Usage: python msg_echo_subscriber.py --timeout 60 TOPIC=pkg/msg/Type [TOPIC=pkg/msg/Type ...]

Subscribes (reliable, keep-last 5) to every topic, and for the first message on each prints
{"topic": ..., "plain": message_to_plain(msg)} on stdout. Exits 0 once every
topic has delivered, 1 at the timeout (after printing {"missing": [...]}).
"""
from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rclpy  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

from helpers import message_to_plain  # noqa: E402


def message_class(type_name: str) -> type:
    """'rsdfm_msgs/msg/BevFeature' -> the generated Python class."""
    package, _, name = type_name.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--timeout', type=float, default=60.0)
    parser.add_argument('topics', nargs='+', help='TOPIC=pkg/msg/Type')
    args = parser.parse_args()

    rclpy.init()
    node = rclpy.create_node('msg_echo_subscriber')
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    received: dict[str, object] = {}

    def make_callback(topic: str):
        def callback(msg) -> None:
            if topic in received:
                return
            received[topic] = msg
            record = {'topic': topic, 'plain': message_to_plain(msg)}
            print(json.dumps(record), flush=True)
        return callback

    wanted = []
    for spec in args.topics:
        topic, _, type_name = spec.partition('=')
        wanted.append(topic)
        node.create_subscription(message_class(type_name), topic, make_callback(topic), qos)

    deadline = time.monotonic() + args.timeout
    while len(received) < len(wanted) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    missing = [t for t in wanted if t not in received]
    if missing:
        print(json.dumps({'missing': missing}), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main())
