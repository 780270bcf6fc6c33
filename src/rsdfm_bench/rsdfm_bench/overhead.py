"""Node overhead: each node's processing time in the live graph against the same work in process.

One drone, the bag replayed at rate_hz (2 Hz in the full run, 5 in the quick one): slow enough
that no node waits for a core, so a node's processing time (its /diagnostics
processing_ms_median: callback start to publish) is its own work plus what the ROS side adds
(message conversion, copies, serialization, publishing), and any wait for a core: the task
nodes get each fused map at the same moment, with the recorder. Its processing_cpu_ms_median,
the CPU time of the processing thread, leaves the wait out.
In process, one thread, at the same pace, the calls each node makes on the same frames:
perception_node the drone side (DroneEncoder.encode), fusion_node decoding and fusion
(FusionDecoder.fuse), detection_node the detection head with the tracker, segmentation_node the
segmentation head, trajectory_node the trajectory head over the tracked boxes. The in-process
model runs the parts the nodes run in ONNX Runtime by default (engine.GROUND_PARTS) there too,
so both sides do the same work. Ratio = node / in process; the target is at most
OVERHEAD_TARGET.
"""
from __future__ import annotations

from pathlib import Path
import time

from rsdfm_bench.stages import run_heads, SCORE_THRESHOLD
from rsdfm_bench.timing import progress, StageClock, torch_threads
from rsdfm_core.types import Frame

OVERHEAD_TARGET = 1.3
# node -> the in-process stage that does its work
NODE_STAGES = {
    '/uav1/perception_node': 'drone side',
    '/fusion_node': 'decode and fusion',
    '/detection_node': 'detection head',
    '/segmentation_node': 'segmentation head',
    '/trajectory_node': 'trajectory head',
}


def in_process_times(rt, frames: list[Frame], period_s: float = 0.0) -> dict[str, dict]:
    """Return stage -> timing summary of the nodes' calls on one drone's view of `frames`.

    The first frame is warm-up. With period_s, frames start that far apart, as they reach the
    nodes: a call after an idle gap runs on cold caches and is slower than back to back.
    """
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder, TaskHeads
    from rsdfm_core.model.tracker import Tracker
    from rsdfm_core.model.trajectory import TrajectoryPredictor

    enc, fus = DroneEncoder(rt), FusionDecoder(rt)
    heads = TaskHeads(rt, score_threshold=SCORE_THRESHOLD)
    tracker, predictor = Tracker(min_score=0.3), TrajectoryPredictor(rt)
    clock = StageClock()
    with torch_threads(1):
        start = time.monotonic()
        for i, frame in enumerate(frames):
            time.sleep(max(0.0, start + i * period_s - time.monotonic()))   # the nodes' pace
            c = clock if i else StageClock()
            v = frame.views[0]
            with c('drone side'):
                m = enc.encode(v.image, v.K, v.cam_to_map)
            with c('decode and fusion'):
                fused = fus.fuse([(m, v.agent_id)])
            run_heads(c, heads, tracker, predictor, frame.stamp_ns, fused)
    return clock.summaries()


def measure_overhead(frames: list[Frame], bag: Path, work: Path, weights: str | None,
                     rate_hz: float = 2.0) -> dict:
    """Run the one-drone graph at rate_hz and compare each node with its stage."""
    from rsdfm_bringup.recorded import read_recorded
    from rsdfm_bringup.session import run_session, SessionError
    from rsdfm_core.graph import fleet_graph

    from rsdfm_core.model.engine import with_ground_engines
    from rsdfm_core.model.runtime import Runtime

    progress(f'overhead: in-process stages of the nodes on {len(frames) - 1} frames, 1 drone')
    node_rt, _ = with_ground_engines(Runtime.load(weights, threads=1))   # the nodes' engines
    stages = in_process_times(node_rt, frames, 1.0 / rate_hz)
    graph = fleet_graph(drones=1, weights=weights, parameters={'threads': 1})
    rate = rate_hz / 10.0      # the bag is recorded at 10 Hz
    progress(f'overhead: graph of {len(graph.nodes)} processes with 1 drone, '
             f'{len(frames)} frames at {rate_hz:g} Hz')
    try:
        res = run_session(graph, bag, len(frames), work / 'overhead_graph', rate=rate,
                          idle_timeout=10.0)
    except SessionError as exc:
        return {'error': str(exc), 'stages': stages}
    diag = read_recorded(res.record_dir).diagnostics
    rows = []
    for node, stage in NODE_STAGES.items():
        node_ms = float(diag.get(node, {}).get('processing_ms_median', 'nan'))
        cpu_ms = float(diag.get(node, {}).get('processing_cpu_ms_median', 'nan'))
        stage_ms = stages[stage]['median_ms']
        rows.append({'node': node, 'stage': stage, 'node_ms': node_ms, 'node_cpu_ms': cpu_ms,
                     'in_process_ms': stage_ms,
                     'ratio': node_ms / stage_ms if stage_ms > 0 else float('nan'),
                     'cpu_ratio': cpu_ms / stage_ms if stage_ms > 0 else float('nan')})
        progress(f'overhead: {node} {node_ms:.1f} ms ({cpu_ms:.1f} ms CPU), in process '
                 f'{stage_ms:.1f} ms ({rows[-1]["ratio"]:.2f}x, CPU {rows[-1]["cpu_ratio"]:.2f}x)')
    return {'rate_hz': rate_hz, 'frames': len(frames) - 1, 'target': OVERHEAD_TARGET,
            'rows': rows, 'stages': stages}
