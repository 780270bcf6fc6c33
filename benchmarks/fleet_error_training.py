"""Does training with fleet errors defend the model? Checkpoints side by side under the errors.

    python benchmarks/fleet_error_training.py --weights shipped= robust=out/robust_ft/robust.pt \
        --out out/fleet_error_training [--workers 2]

For each checkpoint, `rsdfm evaluate` on the held-out bags of benchmarks/robustness.py (seeds
5001, 5003-5005, 4 drones): collaborative without errors, with pose noise 0.5/1/2 m and degrees
(the first drone exact), with 1 m / 1 deg on every drone, and 200 ms late; late fusion at 1 m /
1 deg; the reference drone alone. Mean ± spread over the sequences into OUT/summary.md and
OUT/summary.json. Resumable: a run whose JSON exists is not run again.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
from pathlib import Path
import sys

from robustness import evaluate, mean_spread, SEEDS, simulate

SETTINGS = [
    ('no errors', 'collaborative', []),
    ('0.5 m / 0.5 deg', 'collaborative', ['--pose-noise', '0.5,0.5']),
    ('1 m / 1 deg', 'collaborative', ['--pose-noise', '1.0,1.0']),
    ('2 m / 2 deg', 'collaborative', ['--pose-noise', '2.0,2.0']),
    ('1 m / 1 deg, every drone', 'collaborative', ['--pose-noise', '1.0,1.0', '--reference',
                                                   'none']),
    ('200 ms late', 'collaborative', ['--delay', '200']),
    ('1 m / 1 deg', 'late', ['--pose-noise', '1.0,1.0']),
    ('1 m / 1 deg, every drone', 'late', ['--pose-noise', '1.0,1.0', '--reference', 'none']),
    ('reference drone alone', 'single', []),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', nargs='+', required=True, metavar='NAME=CKPT',
                        help='NAME= with no path: the shipped model')
    parser.add_argument('--out', default='out/fleet_error_training')
    parser.add_argument('--bags', default='out/robustness',
                        help='where benchmarks/robustness.py keeps (or simulates) its bags')
    parser.add_argument('--workers', type=int, default=1)
    args = parser.parse_args()
    out = Path(args.out)
    bags = [simulate(Path(args.bags), seed, frames, 4) for seed, frames in SEEDS.items()]
    todo = []
    for item in args.weights:
        name, _, ckpt = item.partition('=')
        weights = ['--weights', ckpt] if ckpt else []
        for setting, mode, options in SETTINGS:
            for bag in bags:
                slug = f'{mode}_{setting}'.replace(' ', '').replace('/', '_').replace(',', '_')
                todo.append({'name': name, 'setting': setting, 'mode': mode, 'bag': bag,
                             'options': [*options, *weights],
                             'json': out / 'runs' / name / f'{slug}_{bag.name}.json'})

    def one(run):
        res = evaluate(run)
        print(f'fleet-error training: {run["name"]} {run["mode"]} {run["setting"]} '
              f'{run["bag"].name}: AP@0.5 {res["ap50"]:.3f}', file=sys.stderr, flush=True)
        return res

    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(one, todo))
    table: dict[str, dict[str, dict]] = {}
    for run, res in zip(todo, results):
        cell = table.setdefault(f'{run["mode"]}, {run["setting"]}', {}).setdefault(
            run['name'], {'ap50': [], 'ap70': []})
        cell['ap50'].append(res['ap50'])
        cell['ap70'].append(res['ap70'])
    names = [w.partition('=')[0] for w in args.weights]
    lines = ['| method, setting | ' + ' | '.join(f'{n} AP@0.5 | {n} AP@0.7' for n in names)
             + ' |', '|---|' + '---:|' * (2 * len(names))]
    for row, cells in table.items():
        values = []
        for n in names:
            values += [mean_spread(cells[n][key]) for key in ('ap50', 'ap70')]
        lines.append(f'| {row} | ' + ' | '.join(values) + ' |')
    text = '\n'.join(lines) + '\n'
    out.mkdir(parents=True, exist_ok=True)
    (out / 'summary.md').write_text(text)
    (out / 'summary.json').write_text(json.dumps(table, indent=1) + '\n')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
