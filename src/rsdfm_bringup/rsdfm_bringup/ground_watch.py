"""
The fleet-net run's observer inside the ground station's namespace.

Recorder, link monitor, readiness and progress, in one process (one DDS participant, so what
the drones send it crosses each link once).

`python -m rsdfm_bringup.ground_watch --record DIR --drones uav1,uav2 --link uav1=radio-uav1 ...`
records the graph's outputs and /diagnostics (the drones' maps are not recorded: a second
reader on the ground would make every map cross its link twice), publishes the link monitor's
statuses, and talks to the fleet-net process over its standard streams: it prints `ready`
once the graph is connected end to end (every node reads all its inputs, as its /diagnostics
says, the fusion node reads every drone's maps, the recorder has its topics), and after
`finish <frames> <idle s>` waits for a detection message per frame (or `idle` seconds
without one), prints `finished <detections>`, lets the nodes publish /diagnostics once more,
closes the bag and prints `done <detections>`.
"""
from __future__ import annotations

import argparse
import queue
import sys
import threading
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor

from rsdfm_bringup.link_monitor import LinkMonitor
from rsdfm_bringup.readiness import GraphReadiness
from rsdfm_bringup.recorder import BagRecorder
from rsdfm_core.graph import fleet_graph
from rsdfm_msgs.msg import Detection3DArray
from rsdfm_ros.qos import result_qos

RECORDED = ['/rsdfm/detections', '/rsdfm/fused_bev', '/rsdfm/segmentation', '/rsdfm/instances',
            '/rsdfm/trajectories', '/diagnostics']
FINAL_DIAGNOSTICS_S = 1.5      # the nodes publish /diagnostics at 1 Hz: one more round


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--record', required=True, help='bag directory to create')
    p.add_argument('--drones', required=True, help='drone namespaces, e.g. uav1,uav2')
    p.add_argument('--link', action='append', default=[], metavar='DRONE=INTERFACE')
    p.add_argument('--silence', type=float, default=2.5,
                   help='s without a drone heard on /diagnostics that count as a link outage')
    return p.parse_args(argv)


class GroundWatch:
    """Recorder, link monitor, readiness and detection count on one node."""

    def __init__(self, node, args: argparse.Namespace) -> None:
        self.node = node
        self.drones = [d for d in args.drones.split(',') if d]
        self.graph = fleet_graph(namespaces=self.drones)
        self.recorder = BagRecorder(node, args.record, topics=RECORDED)
        self.readiness = GraphReadiness(node, self.graph)
        self.monitor = LinkMonitor(node, dict(item.split('=', 1) for item in args.link),
                                   silence_s=args.silence)
        self.detections = 0
        self.last_detection = time.monotonic()
        node.create_subscription(Detection3DArray, '/rsdfm/detections', self.on_detections,
                                 result_qos(depth=100))

    def on_detections(self, _msg) -> None:
        self.detections += 1
        self.last_detection = time.monotonic()

    def connected(self) -> bool:
        """Tell whether every node reads its inputs, the fusion each drone, the recorder all."""
        fusion_reads = all(self.node.count_subscribers(f'/{d}/rsdfm/bev_feature') >= 1
                           for d in self.drones)
        recording = set(RECORDED) <= set(self.recorder.connections)
        return self.readiness.all_inputs_matched() and fusion_reads and recording

    def finished(self, frames: int, idle_s: float) -> bool:
        return self.detections >= frames or time.monotonic() - self.last_detection > idle_s


def read_commands(commands: queue.Queue) -> None:
    for line in sys.stdin:
        commands.put(line.split())
    commands.put(['eof'])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rclpy.init()
    node = rclpy.create_node('fleet_net_monitor')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    watch = GroundWatch(node, args)
    commands: queue.Queue = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
    said_ready, finish, end_at = False, None, None
    try:
        while end_at is None or time.monotonic() < end_at:
            executor.spin_once(timeout_sec=0.1)
            if not said_ready and watch.connected():
                said_ready = True
                print('ready', flush=True)
            while not commands.empty():
                cmd = commands.get()
                if cmd[0] == 'finish':
                    finish = (int(cmd[1]), float(cmd[2]))
                elif cmd[0] == 'eof' and finish is None:
                    end_at = time.monotonic()
            if finish and end_at is None and watch.finished(*finish):
                print(f'finished {watch.detections}', flush=True)
                end_at = time.monotonic() + FINAL_DIAGNOSTICS_S
    except KeyboardInterrupt:
        pass
    finally:
        watch.recorder.close()
        print(f'done {watch.detections}', flush=True)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
