"""Speed of the RS-DFM model on this machine (one thread by default).

Drone side: one 640x480 frame -> payload (resize, encoder, ground-prior lifting, splat, HLF codec),
at a training altitude and at 200 m (where the runtime enlarges the internal image).
Fusion side: 4 payloads -> decode, resample, attention fusion, BEV decoder, detection,
segmentation and trajectory heads. Prints median / p90 milliseconds (and JSON with --json).

    .venv/bin/python benchmarks/bench_model.py [--weights CKPT] [--threads 1] [--runs 30]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch


def timeit(fn, runs: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return {
        'median_ms': float(np.median(ts)),
        'p90_ms': float(np.percentile(ts, 90)),
        'runs': runs,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--weights')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--runs', type=int, default=30)
    ap.add_argument('--drones', type=int, default=4)
    ap.add_argument('--json')
    args = ap.parse_args()
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder, Runtime, TaskHeads
    from rsdfm_core.model.tracker import Tracker
    from rsdfm_core.model.trajectory import track_detections, TrajectoryPredictor
    from rsdfm_core.world import Simulator, WorldConfig
    rt = Runtime.load(args.weights, threads=args.threads)
    frame = Simulator(WorldConfig(seed=4242, drones=args.drones)).step()
    enc, fus, heads, pred = (
        DroneEncoder(rt),
        FusionDecoder(rt),
        TaskHeads(rt),
        TrajectoryPredictor(rt),
    )
    tracker = Tracker()
    v = frame.views[0]
    drone = timeit(lambda: enc.encode(v.image, v.K, v.cam_to_map), args.runs)
    high = v.cam_to_map.copy()
    high[2, 3] = 200.0                    # same image seen from 200 m: the input grows to 528x400
    drone_200 = timeit(lambda: enc.encode(v.image, v.K, high), args.runs)
    maps = [(enc.encode(w.image, w.K, w.cam_to_map), w.agent_id) for w in frame.views]
    stamp = [frame.stamp_ns]

    def fusion_side():
        f = fus.fuse(maps)
        stamp[0] += 100_000_000
        dets = track_detections(tracker, stamp[0], heads.detect(f))
        heads.segment(f)
        pred.predict(stamp[0], f, dets)
    fusion = timeit(fusion_side, args.runs)
    res = {
        'threads': torch.get_num_threads(),
        'model_id': rt.model_id,
        'drone_side_640x480': drone,
        'drone_side_640x480_at_200m': drone_200,
        f'fusion_side_{args.drones}_drones': fusion,
        'payload_bytes': len(maps[0][0].payload),
    }
    print(json.dumps(res, indent=2))
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump(res, fh, indent=2)
    print(
        f'drone side {drone["median_ms"]:.1f} ms, '
        f'fusion side ({args.drones} drones) {fusion["median_ms"]:.1f} ms '
        f'(median, {args.threads} thread)',
        file=sys.stderr,
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
