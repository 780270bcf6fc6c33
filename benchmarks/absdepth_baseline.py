"""Ground prior against the absolute-depth (LSS) baseline, in range and at 150-200 m.

    python benchmarks/absdepth_baseline.py [--out out/absdepth] [--abs-weights CKPT] [--workers 1]

Runs `rsdfm evaluate` of both shipped models (`--mode collaborative` and `--mode absolute-depth`,
4 drones, default budget) on held-out simulated sequences: seeds 5001 (60 frames) and 5003-5005
(40 frames) at 40-120 m, as the README's held-out set, and seeds 5002 (60 frames), 5006 and 5007
(40 frames) at 150-200 m. Reports mAP@0.5 and mAP@0.7 as the mean and spread (population standard
deviation) over the sequences, and the targets: the baseline within 0.10 AP@0.5 of the ground
prior in range, the ground prior ahead by at least 0.10 at 150-200 m. Resumable: a run whose
JSON exists is not run again. Writes docs/absdepth_baseline.md.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
from pathlib import Path
import statistics
import subprocess
import sys

REPO = Path(__file__).resolve().parents[1]
SETS = {
    'in range (40-120 m)': ({5001: 60, 5003: 40, 5004: 40, 5005: 40}, None),
    '150-200 m': ({5002: 60, 5006: 40, 5007: 40}, '150:200'),
}
MODES = {'ground prior': 'collaborative', 'absolute depth': 'absolute-depth'}
IN_RANGE_GAP, HIGH_LEAD = 0.10, 0.10


def rsdfm() -> str:
    return str(Path(sys.executable).with_name('rsdfm'))


def bag_name(seed: int, altitude: str | None) -> str:
    """Return the README's name: eval_in (seed 5001), eval_in_5003, eval_high (5002), ..."""
    kind = 'eval_high' if altitude else 'eval_in'
    return kind if seed in (5001, 5002) else f'{kind}_{seed}'


def simulate(out: Path, seed: int, frames: int, altitude: str | None) -> Path:
    bag = out / 'bags' / bag_name(seed, altitude)
    if not (bag / 'metadata.yaml').is_file():
        print(f'absdepth_baseline: simulating {bag.name}', file=sys.stderr, flush=True)
        subprocess.run([rsdfm(), 'simulate', '--out', str(bag), '--seed', str(seed), '--frames',
                        str(frames), '--no-dense-gt',
                        *(['--altitude', altitude] if altitude else [])],
                       check=True, stdout=subprocess.DEVNULL)
    return bag


def evaluate(out: Path, bag: Path, mode: str, abs_weights: str | None) -> dict:
    result = out / 'runs' / f'{bag.name}_{mode}.json'
    if not result.is_file():
        print(f'absdepth_baseline: rsdfm evaluate --bag {bag.name} --mode {mode}',
              file=sys.stderr, flush=True)
        weights = ['--weights', abs_weights] if mode == 'absolute-depth' and abs_weights else []
        subprocess.run([rsdfm(), 'evaluate', '--bag', str(bag), '--mode', mode, *weights,
                        '--json', str(result)], check=True, stdout=subprocess.DEVNULL)
    return json.loads(result.read_text())


def mean_spread(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values)


def table(scores: dict) -> list[str]:
    """Markdown rows: per set and model, mAP@0.5 and @0.7 over the sequences, and the targets."""
    lines = ['| sequences | model | mAP@0.5 | mAP@0.7 | car AP@0.5 | car AP@0.7 |',
             '|---|---|---:|---:|---:|---:|']
    for name, per_model in scores.items():
        for model, runs in per_model.items():
            cells = []
            for key in ('ap50', 'ap70'):
                m, s = mean_spread([r[key] for r in runs])
                cells.append(f'{m:.3f} ± {s:.3f}')
            for key in ('ap50', 'ap70'):
                m, s = mean_spread([r['per_class'][key]['car'] for r in runs])
                cells.append(f'{m:.3f} ± {s:.3f}')
            lines.append(f'| {name} ({len(runs)} sequences) | {model} | ' + ' | '.join(cells)
                         + ' |')
    return lines


def targets(scores: dict) -> list[str]:
    def ap50(name: str, model: str) -> float:
        return statistics.fmean(r['ap50'] for r in scores[name][model])
    in_range, high = list(scores)
    gp, ad = ap50(in_range, 'ground prior'), ap50(in_range, 'absolute depth')
    gp_high, ad_high = ap50(high, 'ground prior'), ap50(high, 'absolute depth')
    return ['| target | measured | holds |', '|---|---|---|',
            f'| in range: absolute depth within {IN_RANGE_GAP:.2f} AP@0.5 of the ground prior '
            f'| {ad:.3f} vs {gp:.3f} (gap {gp - ad:.3f}) | '
            f'{"yes" if gp - ad <= IN_RANGE_GAP else "no"} |',
            f'| 150-200 m: ground prior ahead by >= {HIGH_LEAD:.2f} AP@0.5 '
            f'| {gp_high:.3f} vs {ad_high:.3f} (lead {gp_high - ad_high:.3f}) | '
            f'{"yes" if gp_high - ad_high >= HIGH_LEAD else "no"} |']


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='out/absdepth',
                    help='bags and run JSON (default out/absdepth)')
    ap.add_argument('--abs-weights', help='absolute-depth checkpoint (default: the shipped one)')
    ap.add_argument('--workers', type=int, default=1, help='evaluations at once (default 1)')
    ap.add_argument('--doc', default=str(REPO / 'docs' / 'absdepth_baseline.md'),
                    help='table to write (default docs/absdepth_baseline.md)')
    args = ap.parse_args()
    out = Path(args.out)
    jobs = [(name, model, simulate(out, seed, frames, altitude))
            for name, (seeds, altitude) in SETS.items() for seed, frames in seeds.items()
            for model in MODES]
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        results = list(pool.map(lambda j: evaluate(out, j[2], MODES[j[1]], args.abs_weights),
                                jobs))
    scores: dict = {name: {model: [] for model in MODES} for name in SETS}
    for (name, model, _), result in zip(jobs, results):
        scores[name][model].append(result)
    doc = ['# Ground prior against a fair absolute-depth baseline', '',
           'Written by `python benchmarks/absdepth_baseline.py`: `rsdfm evaluate --bag BAG --mode '
           'collaborative` (the shipped ground-prior model) and `--mode absolute-depth` (the '
           'shipped LSS model) on each held-out sequence, 4 drones, default budget; mean ± '
           'spread (population standard deviation) over the sequences.', '',
           *table(scores), '', *targets(scores), '']
    Path(args.doc).write_text('\n'.join(doc))
    print('\n'.join(doc))
    return 0


if __name__ == '__main__':
    sys.exit(main())
