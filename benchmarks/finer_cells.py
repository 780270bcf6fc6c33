"""What finer BEV cells would cost: the model's speed and bytes at 0.5 m cells against 1 m.

    python benchmarks/finer_cells.py [--runs 20] [--out docs/finer_cells.md]

AP@0.7 asks a car's box to overlap its truth by 70 %: about 0.3 m of error along a 1.8 m wide
car. The shipped model places features in 1 m cells and regresses the box within its cell. The
obvious cure is finer cells; this measures what it costs before anyone trains for it. Both
models have the shipped architecture, untrained (speed and bytes hardly depend on the weights):
1 m cells as shipped, and 0.5 m cells over the same 128 m region (256 x 256 cells), the codec's
dense part pooled 8x instead of 4x so that it keeps its 4 m cells and its bytes; top-k and bits
as shipped. Timed on one thread, the models alternating, one simulated 4-drone frame:
- drone side: image -> payload (encoder, ground-prior lifting, splat, codec);
- fusion side: 4 payloads -> decoded, resampled, fused, BEV decoder; then the detection,
  segmentation and trajectory heads' networks on the fused map (the box decoding, tracker and
  trajectory pairing after them are left out: on untrained weights they would see noise).
The shipped weights are timed as well, for scale. The limits (one thread): drone side 80 ms,
fusion side 80 ms for 4 drones; at most 64 KB per drone per frame.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import sys
import time

import torch

REPO = Path(__file__).resolve().parents[1]
LIMIT_MS, LIMIT_BYTES = 80.0, 64 * 1024


def model_at(resolution: float, pool: int):
    """Return a Runtime of the shipped architecture, untrained, at this cell size and pool."""
    from rsdfm_core.model.config import DEFAULT_CONFIG, merge
    from rsdfm_core.model.runtime import Runtime
    from rsdfm_core.model.weights import build_model

    config = merge(DEFAULT_CONFIG, {'model': {'region': {'resolution': resolution},
                                              'codec': {'pool': pool}}})
    return Runtime(build_model(config), config)


def stages(rt, frame) -> dict:
    """Return the two timed calls of one model on one frame, and its payload bytes."""
    from rsdfm_core.model.engine import example_inputs
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder

    enc, fus = DroneEncoder(rt), FusionDecoder(rt)
    view = frame.views[0]
    maps = [(enc.encode(v.image, v.K, v.cam_to_map), v.agent_id) for v in frame.views]
    heads = [(getattr(rt.net, name), example_inputs(getattr(rt.net, name), rt.config, name))
             for name in ('det_head', 'seg_head', 'traj_head')]

    def fusion_side() -> None:
        fused = fus.fuse(maps)
        assert fused.features.shape[-2:] == (rt.region.rows, rt.region.cols)
        for head, x in heads:
            head(*x)

    return {'drone': lambda: enc.encode(view.image, view.K, view.cam_to_map),
            'fusion': fusion_side, 'bytes': max(len(m.payload) for m, _ in maps)}


def main() -> int:
    from rsdfm_core.world import Simulator, WorldConfig

    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=20)
    ap.add_argument('--out', default=str(REPO / 'docs' / 'finer_cells.md'))
    args = ap.parse_args()
    torch.set_num_threads(1)
    frame = Simulator(WorldConfig(seed=4242, drones=4)).step()
    from rsdfm_core.model.runtime import Runtime
    models = {'shipped weights, 1 m cells, pool 4': Runtime.load(None, threads=1),
              'untrained, 1 m cells, pool 4': model_at(1.0, 4),
              'untrained, 0.5 m cells, pool 8': model_at(0.5, 8)}
    calls = {name: stages(rt, frame) for name, rt in models.items()}
    times = {name: {'drone': [], 'fusion': []} for name in models}
    with torch.no_grad():
        for i in range(args.runs + 2):                # the first two are warm-up
            for name, call in calls.items():
                for part in ('drone', 'fusion'):
                    t = time.perf_counter()
                    call[part]()
                    if i >= 2:
                        times[name][part].append((time.perf_counter() - t) * 1e3)
            print(f'finer_cells: run {i + 1}/{args.runs + 2}', file=sys.stderr, flush=True)
    rows = ['| model | cells | drone side (ms) | fusion side, 4 drones (ms) | bytes per drone '
            'per frame |', '|---|---|---:|---:|---:|']
    result = {}
    for name, rt in models.items():
        drone = statistics.median(times[name]['drone'])
        fusion = statistics.median(times[name]['fusion'])
        size = calls[name]['bytes']
        result[name] = {'drone_ms': drone, 'fusion_ms': fusion, 'bytes': size,
                        'cells': [rt.region.rows, rt.region.cols]}
        rows.append(f'| {name} | {rt.region.rows} x {rt.region.cols} | {drone:.1f} | '
                    f'{fusion:.1f} | {size:,} |')
    shipped, first, second = (result[n] for n in models)
    text = '\n'.join([
        '# What finer BEV cells would cost',
        '',
        f'Written by `python benchmarks/finer_cells.py` (median of {args.runs} runs each, one '
        'thread, the models alternating, the shipped architecture untrained and, for scale, the '
        'shipped weights; '
        "the fusion side includes the three heads' networks, not their decoding).",
        '',
        *rows,
        '',
        f'0.5 m cells cost {second["fusion_ms"] / first["fusion_ms"]:.1f}x the fusion side and '
        f'{second["drone_ms"] / first["drone_ms"]:.2f}x the drone side of 1 m cells, and '
        f'{second["bytes"]:,} bytes per map (limit {LIMIT_BYTES:,}). On the shipped model\'s '
        f'{shipped["fusion_ms"]:.1f} ms here that is '
        f'{shipped["fusion_ms"] * second["fusion_ms"] / first["fusion_ms"]:.0f} ms for the fusion '
        f'side (limit {LIMIT_MS:g} ms; every part eager here, the nodes run the decoder and heads '
        'in ONNX Runtime).',
        '',
    ])
    out = Path(args.out)
    out.write_text(text)
    out.with_suffix('.json').write_text(json.dumps(result, indent=2))
    print(text)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
