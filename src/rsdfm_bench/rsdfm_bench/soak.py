"""Loss soak: a fleet's BevFeature maps through a lossy, reordering link into fusion and detection.

The drones' maps are encoded once (rsdfm_core DroneEncoder on simulated views) and then sent at
`rate_hz` with fresh stamps, as a radio link would deliver them: each message is dropped with
probability `drop`, the survivors of a frame go out in random order, and some are held back
and sent after the next frame (`reorder`). fusion_node and detection_node run as their own
processes. Checked: every frame that had at least one map delivered gets detections, and the
resident memory of each node stays flat (end vs. after warm-up). Used by benchmarks/soak.py
(the 2-minute run) and test/ros/test_soak_short.py (a bounded short run).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import random
import sys
import threading
import time

NODES = ('/fusion_node', '/detection_node')
MEMORY_PERIOD_S = 0.25     # resident memory sampled this often (see memory_drift)


@dataclass
class SoakResult:
    """What the soak saw: frames sent and served, and the memory of each node over time."""

    duration_s: float
    frames: int  # frames whose time came (each had `drones` maps before loss)
    frames_with_map: int                      # frames with at least one map delivered
    frames_with_detections: int               # of those, frames that got a Detection3DArray
    messages_sent: int
    messages_dropped: int
    messages_reordered: int
    missing: list[int] = field(default_factory=list)  # stamps with a map but no detections
    memory_mb: dict[str, list[float]] = field(
        default_factory=dict
    )  # node -> RSS samples (MB), 1 per second
    refused: dict[str, str] = field(
        default_factory=dict
    )  # nodes' /diagnostics: received, published, refused.*

    def memory_drift(self, warmup_fraction: float = 0.25) -> dict[str, tuple[float, float, float]]:
        """Return node -> (MB after warm-up, MB at the end, relative change).

        Each MB figure is the resident floor between frames: the least of the 12 samples
        (3 s at MEMORY_PERIOD_S) there. fusion_node's resident memory swings by about 40 MB
        (11 %) inside every frame as the model's working tensors come and go, so a median of
        a few samples lands anywhere in that swing; a leak raises the floor.
        """
        out = {}
        for node, samples in self.memory_mb.items():
            if len(samples) < 4:
                continue
            k = max(1, min(12, len(samples) // 4))
            i = min(int(len(samples) * warmup_fraction), len(samples) - 2 * k)
            start, end = min(samples[i:i + k]), min(samples[-k:])
            out[node] = (start, end, end / start - 1.0)
        return out

    def summary(self) -> dict:
        return {
            'duration_s': round(self.duration_s, 1),
            'frames': self.frames,
            'frames_with_map': self.frames_with_map,
            'frames_with_detections': self.frames_with_detections,
            'messages_sent': self.messages_sent,
            'messages_dropped': self.messages_dropped,
            'messages_reordered': self.messages_reordered,
            'missing_stamps': self.missing[:20],
            'diagnostics': self.refused,
            'memory_mb': {
                n: {'after_warmup': round(a, 1), 'end': round(b, 1), 'drift': round(d, 4)}
                for n, (a, b, d) in self.memory_drift().items()
            },
        }


def encode_fleet_maps(
    drones: int, frames: int, seed: int = 7, size: tuple[int, int] = (160, 120)
) -> list[list]:
    """Return [frame][drone] -> (agent_id, EncodedMap, cam_to_map) from a short simulated flight.

    The maps are encoded once.
    """
    from rsdfm_core.model.runtime import DroneEncoder, Runtime
    from rsdfm_core.world.config import WorldConfig
    from rsdfm_core.world.simulator import Simulator

    rt = Runtime.load(None, threads=1)
    enc = DroneEncoder(rt)
    sim = Simulator(
        WorldConfig(seed=seed, drones=drones, dense_gt=False, width=size[0], height=size[1])
    )
    out = []
    for frame in sim.frames(frames):
        out.append(
            [
                (v.agent_id, enc.encode(v.image, v.K, v.cam_to_map), v.cam_to_map)
                for v in frame.views
            ]
        )
    return out, rt.model_id


def lossy_order(
    rng: random.Random, messages: list, held: list, drop: float, reorder: float
) -> tuple[list, list, int, int]:
    """One frame of the link: (to send now, held back for the next frame, dropped, reordered).

    Messages held back from the previous frame go out after this frame's, so they arrive late
    and out of order, but within a frame period.
    """
    kept = [m for m in messages if rng.random() >= drop]
    dropped = len(messages) - len(kept)
    rng.shuffle(kept)
    now, later = [], []
    for m in kept:
        (later if rng.random() < reorder else now).append(m)
    return now + held, later, dropped, len(later)


def run_soak(
    duration_s: float,
    log_dir: str | Path,
    env: dict | None = None,
    drones: int = 4,
    rate_hz: float = 10.0,
    drop: float = 0.2,
    reorder: float = 0.2,
    seed: int = 1,
    drain_s: float = 15.0,
    progress: bool = True,
) -> SoakResult:
    """Run the soak for duration_s and return what it saw (the graph is stopped afterwards)."""
    from diagnostic_msgs.msg import DiagnosticArray
    import psutil
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from rsdfm_bringup.readiness import GraphReadiness
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_core.graph import fleet_graph
    from rsdfm_msgs.msg import BevFeature, Detection3DArray
    from rsdfm_ros.conversions import encoded_to_feature, stamp_to_ns
    from rsdfm_ros.qos import feature_qos, result_qos

    def say(text: str) -> None:
        if progress:
            print(f'soak: {text}', file=sys.stderr, flush=True)

    rng = random.Random(seed)
    maps, model_id = encode_fleet_maps(drones, 10, seed=seed)
    agents = [a for a, _, _ in maps[0]]
    graph = fleet_graph(namespaces=agents, parameters={'threads': 1})
    runner = GraphRunner(graph, log_dir=log_dir, env=env)
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('rsdfm_soak', context=context)
    detected: set[int] = set()
    diag: dict[str, str] = {}
    lock = threading.Lock()

    def on_detections(msg) -> None:
        with lock:
            detected.add(stamp_to_ns(msg.header.stamp))

    def on_diag(msg) -> None:
        for s in msg.status:
            if s.name in NODES:
                values = {kv.key: kv.value for kv in s.values}
                with lock:
                    diag.update({f'{s.name}.{k}': v for k, v in values.items()
                                 if k.startswith(('refused', 'lost'))
                                 or k in ('received', 'published')})

    detections = node.create_subscription(
        Detection3DArray, '/rsdfm/detections', on_detections, result_qos(depth=100)
    )
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diag, result_qos(depth=50))
    pubs = {
        a: node.create_publisher(BevFeature, f'/{a}/rsdfm/bev_feature', feature_qos())
        for a in agents
    }
    # the nodes' own /diagnostics say when their readers matched: graph counts run ahead of that,
    # and a fused map published before detection_node's reader matched is lost
    readiness = GraphReadiness(node, graph)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    stop = threading.Event()
    spinner = threading.Thread(
        target=lambda: [executor.spin_once(timeout_sec=0.05) for _ in iter(stop.is_set, True)],
        daemon=True,
    )
    spinner.start()
    sent_frames: set[int] = set()
    frames = sent = dropped = reordered = 0
    memory: dict[str, list[float]] = {n: [] for n in NODES}
    started = time.monotonic()
    try:
        runner.start(list(NODES))
        deadline = time.monotonic() + 120
        while (
            not all(p.get_subscription_count() >= 1 for p in pubs.values())
            or detections.get_publisher_count() < 1
            or not readiness.all_inputs_matched(NODES)
        ):
            if runner.exited():
                raise RuntimeError(f'nodes exited early: {runner.exited()}; see {log_dir}')
            if time.monotonic() > deadline:
                raise RuntimeError(f'graph not up within 120 s; see {log_dir}')
            time.sleep(0.1)
        procs = {n: psutil.Process(runner.processes[n].pid) for n in NODES}
        say(
            f'{drones} drones at {rate_hz:g} Hz for {duration_s:g} s, '
            f'drop {drop:.0%}, reorder {reorder:.0%}'
        )
        held: list = []
        period = 1.0 / rate_hz
        t0, stamp0 = time.monotonic(), time.time_ns()
        next_mem = t0
        while (now := time.monotonic()) - t0 < duration_s:
            stamp = stamp0 + int(
                frames * period * 1e9
            )  # capture times on the cameras' 10 Hz schedule
            msgs = [
                encoded_to_feature(m, a, stamp, pose, model_id)
                for a, m, pose in maps[frames % len(maps)]
            ]
            out, held, d, r = lossy_order(rng, msgs, held, drop, reorder)
            for msg in out:
                pubs[msg.agent_id].publish(msg)
                sent_frames.add(stamp_to_ns(msg.header.stamp))
            sent, dropped, reordered, frames = (
                sent + len(out),
                dropped + d,
                reordered + r,
                frames + 1,
            )
            if now >= next_mem:
                next_mem += MEMORY_PERIOD_S
                for n, p in procs.items():
                    memory[n].append(p.memory_info().rss / 2**20)
                if len(memory[NODES[0]]) % int(round(10 / MEMORY_PERIOD_S)) == 0:
                    with lock:
                        say(
                            f'{now - t0:5.0f} s: {frames} frames, '
                            f'{len(detected)} with detections, '
                            + ', '.join(f'{n} {memory[n][-1]:.0f} MB' for n in NODES)
                        )
            if runner.exited():
                raise RuntimeError(
                    f'nodes exited during the soak: {runner.exited()}; see {log_dir}'
                )
            time.sleep(max(0.0, t0 + frames * period - time.monotonic()))
        for msg in held:
            pubs[msg.agent_id].publish(msg)
            sent_frames.add(stamp_to_ns(msg.header.stamp))
            sent += 1
        say('draining')
        drain_end = time.monotonic() + drain_s
        while time.monotonic() < drain_end:
            with lock:
                if sent_frames <= detected:
                    break
            time.sleep(0.1)
        time.sleep(1.5)  # one more /diagnostics period for the counters
        with lock:
            missing = sorted(sent_frames - detected)
            refused = dict(diag)
            served = len(sent_frames & detected)
    finally:
        stop.set()
        spinner.join(5)
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        runner.stop(timeout=20)
    result = SoakResult(
        time.monotonic() - started,
        frames,
        len(sent_frames),
        served,
        sent,
        dropped,
        reordered,
        missing,
        memory,
        refused,
    )
    say(f'done: {result.summary()}')
    return result
