"""Ground prior against the absolute-depth (LSS) baseline, in range and at 150-200 m.

    python benchmarks/absdepth_baseline.py [--out out/absdepth] [--bags out/robustness] \
        [--abs-weights CKPT] [--workers 1]

Runs `rsdfm evaluate` of both shipped models (`--mode collaborative` and `--mode absolute-depth`,
4 drones, default budget) on held-out simulated sequences: seeds 5001 (60 frames) and 5003-5005
(40 frames) at 40-120 m, as the README's held-out set, and seeds 5002 (60 frames), 5006 and 5007
(40 frames) at 150-200 m. Reports mAP@0.5 and mAP@0.7 as the mean and spread (population standard
deviation) over the sequences, and the targets: the baseline within 0.10 AP@0.5 of the ground
prior in range, the ground prior ahead by at least 0.10 at 150-200 m. The bags are
benchmarks/robustness.py's (simulated there on first use). Resumable: a run whose JSON exists is
not run again. Writes docs/absdepth_baseline.md.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import statistics
import sys

from robustness import evaluate, HIGH_ALTITUDE, HIGH_SEEDS, mean_spread, SEEDS, simulate

REPO = Path(__file__).resolve().parents[1]
SETS = {'in range (40-120 m)': (SEEDS, None), '150-200 m': (HIGH_SEEDS, HIGH_ALTITUDE)}
MODES = {'ground prior': 'collaborative', 'absolute depth': 'absolute-depth'}
IN_RANGE_GAP, HIGH_LEAD = 0.10, 0.10


def run_of(out: Path, bag: Path, mode: str, abs_weights: str | None) -> dict:
    """Return the `rsdfm evaluate` run of one bag and mode, as robustness.evaluate takes it."""
    weights = ['--weights', abs_weights] if mode == 'absolute-depth' and abs_weights else []
    return {'bag': bag, 'mode': mode, 'options': weights,
            'json': out / 'runs' / f'{bag.name}_{mode}.json'}


def table(scores: dict) -> list[str]:
    """Markdown rows: per set and model, mAP@0.5 and @0.7 (all and cars) over the sequences."""
    lines = ['| sequences | model | mAP@0.5 | mAP@0.7 | car AP@0.5 | car AP@0.7 |',
             '|---|---|---:|---:|---:|---:|']
    for name, per_model in scores.items():
        for model, runs in per_model.items():
            cells = [mean_spread([r[key] for r in runs]) for key in ('ap50', 'ap70')]
            cells += [mean_spread([r['per_class'][key]['car'] for r in runs])
                      for key in ('ap50', 'ap70')]
            lines.append(f'| {name} ({len(runs)} sequences) | {model} | ' + ' | '.join(cells)
                         + ' |')
    return lines


def targets(scores: dict) -> list[str]:
    """Markdown rows of the baseline's two targets, from the sequences' mean AP@0.5."""
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
    ap.add_argument('--out', default='out/absdepth', help='run JSON (default out/absdepth)')
    ap.add_argument('--bags', default='out/robustness',
                    help='where benchmarks/robustness.py keeps (or simulates) its bags')
    ap.add_argument('--abs-weights', help='absolute-depth checkpoint (default: the shipped one)')
    ap.add_argument('--workers', type=int, default=1, help='evaluations at once (default 1)')
    ap.add_argument('--doc', default=str(REPO / 'docs' / 'absdepth_baseline.md'),
                    help='table to write (default docs/absdepth_baseline.md)')
    args = ap.parse_args()
    out = Path(args.out)
    jobs = [(name, model, simulate(Path(args.bags), seed, frames, 4, altitude))
            for name, (seeds, altitude) in SETS.items() for seed, frames in seeds.items()
            for model in MODES]
    with ThreadPoolExecutor(max(1, args.workers)) as pool:
        results = list(pool.map(
            lambda j: evaluate(run_of(out, j[2], MODES[j[1]], args.abs_weights)), jobs))
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
