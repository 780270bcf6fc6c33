"""Run a bag through the whole graph once and record what it publishes.

Starts every node of the fleet graph as a process (GraphRunner) and `rsdfm record` as another,
waits until the graph is connected (each camera topic, each drone's features and the fused
map have their subscribers), replays the bag restamped to now (noting when each frame went out,
for the latency), waits until a detection message came for every frame (or a timeout), then
stops everything cleanly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import threading
import time

from rsdfm_bringup.readiness import GraphReadiness
from rsdfm_bringup.replay import BagReplay
from rsdfm_bringup.runner import GraphRunner
from rsdfm_core.graph import FleetGraph
from rsdfm_core.map_rate import map_period_ns, mapped_stamps

OUTPUT_TOPICS = [
    '/rsdfm/detections',
    '/rsdfm/fused_bev',
    '/rsdfm/segmentation',
    '/rsdfm/instances',
    '/rsdfm/trajectories',
    '/diagnostics',
    '/ground_truth/objects',
    '/tf',
    '/tf_static',
]


class SessionError(RuntimeError):
    """The graph did not come up or did not answer; the message names the node logs to read."""


@dataclass
class SessionResult:
    record_dir: Path
    offset_ns: int            # replay restamp offset: recorded stamp - bag stamp
    detections: int           # detection messages seen
    sent_at: dict             # bag stamp (ns) -> wall time (ns) its frame was published
    seconds: float
    mapped: list              # bag stamps (ns) of the frames the drones map (map_rate)


class BackgroundSpin:
    """Spin one node in a daemon thread until stop(), so its callbacks run while a tool waits."""

    def __init__(self, node, context=None) -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.executor.shutdown()


def _log(msg: str) -> None:
    print(f'session: {msg}', file=sys.stderr, flush=True)


def run_session(graph: FleetGraph, bag: Path, frames: int, out: Path, rate: float,
                ready_timeout: float = 180.0, idle_timeout: float = 20.0,
                map_rate: float = 0.0) -> SessionResult:
    """Replay `bag` through `graph`, recording into out/record; node logs go to out/logs.

    map_rate: the perception nodes' (0 = every image): the frames awaited are those mapped.
    """
    import rclpy

    from rsdfm_bringup.recorder import ALL_MATCHED
    from rsdfm_msgs.msg import Detection3DArray
    from rsdfm_ros.qos import result_qos

    rec_dir, logs = out / 'record', out / 'logs'
    shutil.rmtree(rec_dir, ignore_errors=True)
    logs.mkdir(parents=True, exist_ok=True)
    spaces = list(graph.namespaces)
    cameras = [f'{ns}/camera/{leaf}' for ns in spaces for leaf in ('image_raw', 'camera_info')]
    play = (
        cameras
        + [f'{ns}/camera/pose' for ns in spaces]
        + ['/tf', '/tf_static', '/ground_truth/objects']
    )
    topics = OUTPUT_TOPICS + [f'{ns}/rsdfm/bev_feature' for ns in spaces]
    started = time.monotonic()
    runner = GraphRunner(graph, log_dir=logs)
    rsdfm = str(Path(sys.executable).with_name('rsdfm'))
    recorder_log = open(logs / 'recorder.log', 'wb')
    recorder = None
    rclpy.init()
    node = rclpy.create_node('rsdfm_demo')
    count = [0]
    node.create_subscription(
        Detection3DArray,
        '/rsdfm/detections',
        lambda m: count.__setitem__(0, count[0] + 1),
        result_qos(depth=100),
    )
    readiness = GraphReadiness(node, graph)
    spin = BackgroundSpin(node)
    try:
        runner.start()
        recorder = subprocess.Popen(
            [rsdfm, 'record', '--out', str(rec_dir), *topics],
            stdout=recorder_log,
            stderr=subprocess.STDOUT,
        )
        replay = BagReplay(
            node, bag, rate=rate, topics=play, restamp=True, camera_qos_kind='reliable',
            align_ns=map_period_ns(map_rate))
        _log(f'waiting for {len(graph.nodes)} nodes and the recorder to connect')

        def connected() -> bool:
            if runner.exited():
                raise SessionError(f'nodes exited early: {runner.exited()}; see {logs}')
            # the recorder's own readers matched (DDS), not only counted in the graph
            return (ALL_MATCHED in (logs / 'recorder.log').read_text(errors='replace')
                    and readiness.ready(replay, cameras + ['/tf', '/tf_static']))
        deadline = time.monotonic() + ready_timeout
        while not connected():
            if time.monotonic() > deadline:
                raise SessionError(
                    f'graph not connected after {ready_timeout:g} s; see the node logs in {logs}'
                )
            time.sleep(0.2)
        _log(
            f'graph up after {time.monotonic() - started:.1f} s; replaying {frames} frames '
            f'at rate {rate:g}' + (f', mapped at {map_rate:g} Hz' if map_rate else '')
        )
        replay.play()
        replay.flush()
        mapped = [s - replay.offset_ns for s in mapped_stamps(
            (s + replay.offset_ns for s in replay.sent_at), map_rate)]
        if map_rate:
            frames = len(mapped)
        last, last_change = count[0], time.monotonic()
        while count[0] < frames and time.monotonic() - last_change < idle_timeout:
            time.sleep(0.2)
            if count[0] != last:
                last, last_change = count[0], time.monotonic()
        if count[0] < frames:
            _log(
                f'only {count[0]} of {frames} frames gave detections (none for {idle_timeout:g} s)'
            )
        time.sleep(
            1.5
        )  # let /diagnostics publish its final figures once more (1 Hz) before stopping
    finally:
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            try:
                recorder.wait(30)
            except subprocess.TimeoutExpired:
                recorder.kill()
        recorder_log.close()
        runner.stop(timeout=15)
        spin.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return SessionResult(
        rec_dir, replay.offset_ns, count[0], dict(replay.sent_at), time.monotonic() - started,
        mapped)
