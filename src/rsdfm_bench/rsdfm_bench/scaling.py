"""Scaling with fleet size: fusion-side time and end-to-end latency with 1, 2, 4, 8 drones.

Fusion side (in process, one thread): decode every drone's payload, fuse, BEV decoder, heads and
trajectories, per fleet frame. Modelled end-to-end: one drone's image-to-payload time (each drone
has its own computer) + DDS transport + fusion side. Measured end-to-end: the real graph (one
process per node over DDS, as `rsdfm demo` runs it) fed the bag at 10 Hz on this machine, where
all drones share its cores: capture (replay publish) to detections recorded. Growth is fitted as
time ~ drones^b on a log-log scale and b is reported.
"""
from __future__ import annotations

import math
from pathlib import Path
import time

import numpy as np

from rsdfm_bench.stages import SCORE_THRESHOLD
from rsdfm_bench.timing import all_threads, progress, StageClock, summary, torch_threads
from rsdfm_core.model.frame_cost import carried_map_rate, fusion_side
from rsdfm_core.types import Frame

DRONE_COUNTS = (1, 2, 4, 8)
GRAPH_WARMUP_FRAMES = (
    5  # delivered frames left out of the graph latency (lazy torch init in every node)
)


def exponent(ns: list[int], times: list[float]) -> float | None:
    """Slope b of log(time) = a + b log(drones) (None with fewer than two usable points)."""
    pts = [(n, t) for n, t in zip(ns, times) if t is not None and math.isfinite(t) and t > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def linear_fit(ns: list[int], times: list[float]) -> tuple[float, float]:
    """Return (fixed ms, ms per drone) of time = fixed + per * drones, least squares."""
    per, fixed = np.polyfit(np.asarray(ns, float), np.asarray(times, float), 1)
    return float(fixed), float(per)


def fusion_side_times(rt, frames: list[Frame], counts=DRONE_COUNTS) -> tuple[dict, dict]:
    """Return per drone count the fusion-side time per frame, and the drone-side time per image.

    Both are timing summaries.
    """
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder, TaskHeads
    from rsdfm_core.model.tracker import Tracker
    from rsdfm_core.model.trajectory import TrajectoryPredictor

    enc, fus = DroneEncoder(rt), FusionDecoder(rt)
    heads = TaskHeads(rt, score_threshold=SCORE_THRESHOLD)
    drone = StageClock()
    encoded = []
    with torch_threads(1):
        for frame in frames:
            row = []
            for v in frame.views[:max(counts)]:
                with drone('drone side'):
                    row.append((enc.encode(v.image, v.K, v.cam_to_map), v.agent_id))
            encoded.append(row)
        out = {}
        for n in counts:
            clock = StageClock()
            for i, (frame, row) in enumerate(zip(frames, encoded)):
                if i == 0:      # warm-up with a throwaway tracker and predictor, not timed
                    fusion_side(fus, heads, Tracker(), TrajectoryPredictor(rt), frame, row[:n])
                    tracker, pred = Tracker(), TrajectoryPredictor(rt)
                with clock('fusion side'):
                    fusion_side(fus, heads, tracker, pred, frame, row[:n])
            out[n] = summary(clock.samples['fusion side'])
            progress(
                f'scaling: fusion side with {n} drone{"s" * (n > 1)}: '
                f'{out[n]["median_ms"]:.1f} ms per frame'
            )
    return out, drone.summaries(skip=1)['drone side']


def graph_latency(bag: Path, drones: int, frames: int, work: Path, weights: str | None,
                  map_rate: float = 0.0) -> dict:
    """Run the bag through the real graph with `drones` drones at 10 Hz.

    The result holds the latency of every delivered frame. map_rate: the perception nodes'
    (0 = every image); `frames` is then the number of frames the drones map.
    """
    from rsdfm_bringup.recorded import read_recorded
    from rsdfm_bringup.session import run_session, SessionError
    from rsdfm_core.graph import fleet_graph

    out_dir = work / (f'graph_{drones}' + (f'_map_rate_{map_rate:g}' if map_rate else ''))
    graph = fleet_graph(drones=drones, weights=weights,
                        parameters={'threads': 1, 'map_rate': map_rate})
    progress(
        f'scaling: graph of {len(graph.nodes)} processes with {drones} drone{"s" * (drones > 1)}, '
        f'{frames} frames at 10 Hz' + (f', mapped at {map_rate:g} Hz' if map_rate else '')
    )
    t0 = time.monotonic()
    try:
        res = run_session(graph, bag, frames, out_dir, rate=1.0, idle_timeout=5.0,
                          map_rate=map_rate)
    except SessionError as exc:
        return {'drones': drones, 'error': str(exc)}
    if map_rate:
        frames = len(res.mapped)
    rec = read_recorded(res.record_dir)
    lat = [
        (rec.receive_ns[s] - res.sent_at[s - res.offset_ns]) / 1e6
        for s in sorted(rec.detections)
        if s in rec.receive_ns and s - res.offset_ns in res.sent_at
    ]
    lat = (
        lat[GRAPH_WARMUP_FRAMES:] if len(lat) > 2 * GRAPH_WARMUP_FRAMES else lat
    )  # first inferences are cold
    nodes = {
        name: {
            k: d[k]
            for k in (
                'processing_ms_median',
                'e2e_latency_ms_median',
                'published',
                'received',
                'refused_total',
            )
            if k in d
        }
        for name, d in sorted(rec.diagnostics.items())
    }
    out = summary(lat)
    demand = sum(float(d.get('processing_ms_median', 'nan')) for d in nodes.values()
                 if d.get('processing_ms_median', 'nan') != 'nan')
    out['cpu_ms_per_frame'] = demand
    out['cpu_load'] = demand / (
        all_threads() * 100.0
    )  # of the cores' time in one 100 ms frame period
    out.update(
        {
            'drones': drones,
            'frames': frames,
            'map_rate_hz': map_rate,
            'delivered': len(rec.detections),
            'nodes': nodes,
            'warmup_frames_left_out': len(rec.detections) - len(lat),
            'seconds': time.monotonic() - t0,
            'logs': str(out_dir / 'logs'),
        }
    )
    progress(
        f'scaling: graph with {drones} drone{"s" * (drones > 1)}: '
        f'latency median {out["median_ms"]:.0f} ms, '
        f'p90 {out["p90_ms"]:.0f} ms, {out["delivered"]}/{frames} frames delivered'
        + (f' (maps at {map_rate:g} Hz)' if map_rate else '')
    )
    return out


def measure_scaling(
    rt,
    frames: list[Frame],
    bag: Path,
    bag_frames: int,
    graph_drones: tuple[int, ...],
    work: Path,
    weights: str | None,
    transport_ms: float | None,
) -> dict:
    """Measure how time grows with the fleet's size.

    Fusion-side time for 1..8 drones, modelled and measured end-to-end latency, fitted exponents.
    """
    fusion, drone = fusion_side_times(rt, frames)
    t_ms = transport_ms if transport_ms is not None and math.isfinite(transport_ms) else 0.0
    rows = []
    graphs = {n: graph_latency(bag, n, bag_frames, work, weights) for n in graph_drones}
    # the graph at real time on these cores: 4 drones mapping at the rate `rsdfm demo` picks
    # from the model's cost of a frame here
    real_time = None
    if 4 in graph_drones:
        cost = 4 * drone['median_ms'] + fusion[4]['median_ms']
        real_time = graph_latency(bag, 4, bag_frames, work, weights,
                                  map_rate=carried_map_rate(cost, all_threads(), 10.0))
    for n in DRONE_COUNTS:
        g = graphs.get(n, {})
        rows.append({'drones': n, 'fusion_side': fusion[n],
                     'modelled_e2e_ms': drone['median_ms'] + t_ms + fusion[n]['median_ms'],
                     'graph': g or None})
    ns = [r['drones'] for r in rows]
    fixed, per = linear_fit(ns, [r['fusion_side']['median_ms'] for r in rows])
    return {
        'cores': all_threads(),
        'linear_fusion_side': {'fixed_ms': fixed, 'per_drone_ms': per},
        'drone_side': drone,
        'transport_ms': t_ms,
        'rows': rows,
        'real_time': real_time,
        'exponent_fusion_side': exponent(ns, [r['fusion_side']['median_ms'] for r in rows]),
        'exponent_modelled_e2e': exponent(ns, [r['modelled_e2e_ms'] for r in rows]),
        'exponent_graph_e2e': exponent(
            [n for n in graph_drones if 'median_ms' in graphs[n]],
            [graphs[n]['median_ms'] for n in graph_drones if 'median_ms' in graphs[n]],
        ),
    }
