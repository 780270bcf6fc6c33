"""Outside process for the fusion flood test: many fake drones publishing well-formed maps.

Usage: python flood_publisher.py --map MAP.cdr --agents 100 --rate 10 --duration 20

MAP.cdr is one real drone's rsdfm_msgs/BevFeature, serialized. The process creates
/fakeNN/rsdfm/bev_feature for NN = 00 .. agents-1 and publishes that map on each at `rate` Hz
for `duration` s, restamped with the current time and agent_id fakeNN, then destroys its
publishers and exits. It prints {"started": true} when it begins publishing and, at the end,
{"sent": n, "seconds": s, "cpu_seconds": c} on stdout.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

import rclpy
from rclpy.serialization import deserialize_message

from rsdfm_msgs.msg import BevFeature
from rsdfm_ros.conversions import ns_to_stamp
from rsdfm_ros.qos import result_qos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--map', required=True, help='a serialized rsdfm_msgs/BevFeature')
    parser.add_argument('--agents', type=int, default=100)
    parser.add_argument('--rate', type=float, default=10.0)
    parser.add_argument('--duration', type=float, default=20.0)
    args = parser.parse_args()

    msg = deserialize_message(Path(args.map).read_bytes(), BevFeature)
    rclpy.init()
    node = rclpy.create_node('rsdfm_flood')
    names = [f'fake{i:02d}' for i in range(args.agents)]
    pubs = [node.create_publisher(BevFeature, f'/{name}/rsdfm/bev_feature', result_qos())
            for name in names]
    print(json.dumps({'started': True}), flush=True)
    sent, period, t0 = 0, 1.0 / args.rate, time.monotonic()
    ticks = 0
    while time.monotonic() - t0 < args.duration:
        msg.header.stamp = ns_to_stamp(time.time_ns())
        for name, pub in zip(names, pubs):
            msg.agent_id = name
            pub.publish(msg)
        sent += len(pubs)
        ticks += 1
        time.sleep(max(0.0, t0 + ticks * period - time.monotonic()))     # the publishing rate
    seconds = time.monotonic() - t0
    for pub in pubs:
        node.destroy_publisher(pub)
    node.destroy_node()
    rclpy.shutdown()
    print(json.dumps({'sent': sent, 'seconds': round(seconds, 2),
                      'cpu_seconds': round(time.process_time(), 2)}), flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
