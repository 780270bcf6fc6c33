"""What training without dense images costs: checkpoints scored on the held-out in-range set.

    python benchmarks/box_only_training.py --weights shipped= boxes=out/boxonly/boxes.pt \
        --out docs/box_only_training

Each checkpoint is scored like TRAINING.md's accuracy table (collaborative, the model's default
budget, all held-out frames pooled: seeds 5001 with 60 frames and 5003-5005 with 40, 4 drones,
40-120 m, or with --high seeds 5002 (60), 5006 and 5007 (40) at 150-200 m; bags simulated on
first use) and per sequence (mean and spread). Writes OUT.json and
OUT.md; names already in OUT.json are reused unless --again. `NAME=` with no path is the shipped
model.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import sys

from robustness import HIGH_ALTITUDE, HIGH_SEEDS, SEEDS, simulate


def score(weights: str | None, bags: list[Path]) -> dict:
    from rsdfm_core.bag import read_frames
    from rsdfm_core.training.evaluate import evaluate_frames, load_runtime, offset_sequences
    rt = load_runtime('collaborative', weights or None, 1)
    sequences = [list(read_frames(b)) for b in bags]
    pooled = evaluate_frames(offset_sequences(sequences), rt, 'collaborative')
    per_seq = [evaluate_frames(s, rt, 'collaborative', progress=False) for s in sequences]
    keep = ('ap50', 'ap70', 'iou', 'pq', 'ade', 'frames', 'model_id', 'per_class')
    return {**{k: pooled[k] for k in keep},
            'sequences': [{'bag': b.name, 'ap50': r['ap50'], 'ap70': r['ap70']}
                          for b, r in zip(bags, per_seq)]}


def markdown(results: dict[str, dict]) -> str:
    lines = ['| weights | model_id | mAP@0.5 | mAP@0.7 | car AP@0.5 | car AP@0.7 | seg IoU | '
             'ADE@3s | mAP@0.5 per sequence (mean ± sd) |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|']
    for name, r in results.items():
        seq = [s['ap50'] for s in r['sequences']]
        lines.append(
            f"| {name} | {r['model_id']} | {r['ap50']:.3f} | {r['ap70']:.3f} | "
            f"{r['per_class']['ap50']['car']:.3f} | {r['per_class']['ap70']['car']:.3f} | "
            f"{r['iou']:.3f} | {r['ade']['3s']:.2f} | {statistics.mean(seq):.3f} ± "
            f'{statistics.stdev(seq):.3f} |')
    return '\n'.join(lines) + '\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', nargs='+', required=True, metavar='NAME=CKPT')
    parser.add_argument('--bags', default='out/robustness',
                        help='where benchmarks/robustness.py keeps (or simulates) its bags')
    parser.add_argument('--out', required=True, help='OUT.json and OUT.md are written')
    parser.add_argument('--high', action='store_true',
                        help='score the 150-200 m held-out set (seeds 5002, 5006, 5007) instead')
    parser.add_argument('--again', action='store_true',
                        help='score names already in OUT.json again (default: reuse them)')
    args = parser.parse_args()
    if args.high:
        bags = [simulate(Path(args.bags), seed, n, 4, HIGH_ALTITUDE)
                for seed, n in HIGH_SEEDS.items()]
    else:
        bags = [simulate(Path(args.bags), seed, frames, 4) for seed, frames in SEEDS.items()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = json.loads(out.with_suffix('.json').read_text()) \
        if out.with_suffix('.json').is_file() else {}
    results = {}
    for item in args.weights:
        name, _, path = item.partition('=')
        if name in done and not args.again:
            results[name] = done[name]          # resumable: scored before
            continue
        print(f'box-only: scoring {name}', file=sys.stderr, flush=True)
        results[name] = score(path, bags)
        out.with_suffix('.json').write_text(json.dumps({**done, **results}, indent=2) + '\n')
    out.with_suffix('.md').write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
