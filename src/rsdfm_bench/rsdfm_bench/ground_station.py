"""The ground station alone: fusion and task nodes fed recorded drone maps at 10 Hz, 1-16 drones.

The drones' side is recorded once: the drone side runs on every view of the bench bag and each
map is written to a bag as the BevFeature message a perception node publishes (one topic per
drone, stamped with the capture time), which is what `rsdfm record` of the drones' topics
holds. The simulator places at most 8 drones, so drones 9-16 send the maps of drones 1-8 again
under their own ids: the fused content is that of 8 drones, the cost that of 16.

For each fleet size and each layout (each central node its own process, or all of them in one
ground_station process), the central nodes start with the runner, the bag's first N drone
topics are replayed restamped at 10 Hz, and this process notes when each frame's detections
arrive. Reported: frames delivered (a detection message for the frame), end-to-end latency
(the frame's last map published to its detections received, same clock) median and p90, CPU
per frame (user + system time of the ground station's processes from the first map sent to the
last detection, per frame delivered; the cold first frames are in it: at one drone a run
counted so gave 169 ms, one counted after the warm-up 167 ms), each node's processing median
from /diagnostics, and the growth with the number of drones (exponent and cost per drone).
"""
from __future__ import annotations

import copy
from dataclasses import replace
import os
from pathlib import Path
import shutil
import time

from rsdfm_bench.scaling import exponent, GRAPH_WARMUP_FRAMES, linear_fit
from rsdfm_bench.timing import progress, summary, torch_threads
from rsdfm_core.types import Frame

GROUND_DRONES = (1, 2, 4, 8, 16)
LAYOUTS = ('separate', 'one_process')
FEATURE_TOPIC = '/uav{}/rsdfm/bev_feature'
TARGET_DRONES, TARGET_DELIVERED, TARGET_MEDIAN_MS = 16, 0.95, 150.0


def feature_bag(work: Path, rt, frames: list[Frame], drones: int = max(GROUND_DRONES)) -> Path:
    """Write the drones' BevFeature messages of every frame to a bag; return its directory."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer

    from rsdfm_core.bag import make_typestore
    from rsdfm_core.model.runtime import DroneEncoder
    from rsdfm_ros.conversions import encoded_to_feature

    bag = work / f'features_{drones}'
    shutil.rmtree(bag, ignore_errors=True)
    progress(f"ground station: recording {drones} drones' maps of {len(frames)} frames "
             f'into {bag}')
    enc, ts = DroneEncoder(rt), make_typestore()
    msgtype = 'rsdfm_msgs/msg/BevFeature'
    with torch_threads(1), Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = [writer.add_connection(FEATURE_TOPIC.format(i + 1), msgtype, typestore=ts)
                 for i in range(drones)]
        for frame in frames:
            msgs = [encoded_to_feature(enc.encode(v.image, v.K, v.cam_to_map), v.agent_id,
                                       frame.stamp_ns, v.cam_to_map, rt.model_id)
                    for v in frame.views]
            for i in range(drones):
                msg = msgs[i % len(msgs)]
                if i >= len(msgs):            # a copy: the same map under this drone's id
                    msg = copy.copy(msg)
                    msg.agent_id = f'uav{i + 1}'
                writer.write(conns[i], frame.stamp_ns, serialize_message(msg))
    return bag


def _cpu_seconds(pids: list[int]) -> float:
    """Return user + system CPU seconds of these processes so far (0 for one that is gone)."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick     # utime, stime
    return total


def ground_station_run(bag: Path, drones: int, frames: int, layout: str, work: Path,
                       weights: str | None, timeout: float = 120.0,
                       engine: str | None = None) -> dict:
    """Run the central nodes in `layout` on the first `drones` drones' maps at 10 Hz.

    engine: every node's engine (None: each node's default).
    """
    import rclpy

    from rsdfm_bringup.readiness import GraphReadiness
    from rsdfm_bringup.replay import BagReplay
    from rsdfm_bringup.runner import GraphRunner
    from rsdfm_bringup.session import BackgroundSpin
    from rsdfm_core.graph import fleet_graph
    from rsdfm_msgs.msg import Detection3DArray
    from rsdfm_ros.qos import result_qos

    graph = fleet_graph(drones=drones, weights=weights,
                        parameters={'threads': 1, **({'engine': engine} if engine else {})},
                        ground_station=layout)
    graph = replace(graph, nodes=tuple(n for n in graph.nodes if not n.namespace))
    out_dir = work / f'ground_{layout}_{drones}'
    shutil.rmtree(out_dir, ignore_errors=True)
    progress(f'ground station: {layout}, {drones} drone{"s" * (drones > 1)}, '
             f'{len(graph.nodes)} process(es), {frames} frames at 10 Hz')
    runner = GraphRunner(graph, log_dir=out_dir / 'logs')
    rclpy.init()
    node = rclpy.create_node('rsdfm_bench_ground')
    arrived: dict[int, int] = {}          # detections' stamp -> wall time received (ns)

    def on_detections(msg) -> None:
        arrived.setdefault(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
                           time.time_ns())
    sub = node.create_subscription(Detection3DArray, '/rsdfm/detections', on_detections,
                                   result_qos(depth=100))
    readiness = GraphReadiness(node, graph)
    spin = BackgroundSpin(node)
    t0 = time.monotonic()
    try:
        runner.start()
        topics = [FEATURE_TOPIC.format(i + 1) for i in range(drones)]
        replay = BagReplay(node, bag, rate=1.0, topics=topics, restamp=True)
        deadline = time.monotonic() + timeout
        while not (all(replay.matched(t) >= 1 for t in topics)
                   and sub.get_publisher_count() >= 1 and readiness.all_inputs_matched()):
            if runner.exited() or time.monotonic() > deadline:
                return {'drones': drones, 'layout': layout,
                        'error': f'the ground station did not come up (exited: {runner.exited()});'
                                 f' logs in {out_dir / "logs"}'}
            time.sleep(0.1)
        pids = [p.pid for p in runner.processes.values()]
        cpu0 = _cpu_seconds(pids)
        replay.play(progress=False)
        replay.flush()
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 3.0 and len(arrived) < frames:
            time.sleep(0.05)
            if len(arrived) != last:
                last, quiet_since = len(arrived), time.monotonic()
        cpu = _cpu_seconds(pids) - cpu0
        time.sleep(1.2)          # one more /diagnostics round with the final figures
        keys = ('processing_ms_median', 'published', 'received', 'lost', 'refused_total')
        nodes = {name: {k: values.get(k) for k in keys}
                 for name, values in readiness.latest.items()}
        sent, offset = dict(replay.sent_at), replay.offset_ns
    finally:
        runner.stop(timeout=15)
        spin.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    lat = [(arrived[s + offset] - sent[s]) / 1e6 for s in sorted(sent) if s + offset in arrived]
    kept = lat[GRAPH_WARMUP_FRAMES:] if len(lat) > 2 * GRAPH_WARMUP_FRAMES else lat
    out = summary(kept)
    out.update({'drones': drones, 'layout': layout, 'frames': frames, 'delivered': len(lat),
                'cpu_ms_per_frame': 1e3 * cpu / max(1, len(lat)), 'nodes': nodes,
                'warmup_frames_left_out': len(lat) - len(kept),
                'seconds': time.monotonic() - t0, 'logs': str(out_dir / 'logs')})
    progress(f'ground station: {layout}, {drones} drones: {out["delivered"]}/{frames} delivered, '
             f'median {out["median_ms"]:.0f} ms, p90 {out["p90_ms"]:.0f} ms, '
             f'{out["cpu_ms_per_frame"]:.0f} ms CPU per frame')
    return out


def measure_ground_station(rt, frames: list[Frame], work: Path, weights: str | None,
                           counts: tuple[int, ...] = GROUND_DRONES,
                           layouts: tuple[str, ...] = LAYOUTS) -> dict:
    """Measure the ground station alone for every fleet size and layout; fit the growth."""
    bag = feature_bag(work, rt, frames, max(counts))
    rows = [ground_station_run(bag, n, len(frames), layout, work, weights)
            for layout in layouts for n in counts]
    fits = {}
    for layout in layouts:
        ok = [r for r in rows if r['layout'] == layout and 'median_ms' in r]
        ns = [r['drones'] for r in ok]
        fits[layout] = {
            'exponent_e2e': exponent(ns, [r['median_ms'] for r in ok]),
            'exponent_cpu': exponent(ns, [r['cpu_ms_per_frame'] for r in ok]),
            'cpu_fit': (dict(zip(('fixed_ms', 'per_drone_ms'),
                                 linear_fit(ns, [r['cpu_ms_per_frame'] for r in ok])))
                        if len(ok) >= 2 else None),
        }
    return {'counts': list(counts), 'layouts': list(layouts), 'frames': len(frames),
            'rows': rows, 'fits': fits, 'copied_drones_from': len(frames[0].views)}
