"""
Fly over radio links: AP@0.5, frames delivered and latency against the link's rate.

The drones' codec budget fitted to the link and not.

    source env.sh && python benchmarks/bench_links.py        (as root: network namespaces)

Simulates one bag (2 drones, 40 frames at 640x480, seed 11) and runs `rsdfm fleet-net` on it
once per link rate (1, 2, 5, 10, 20 Mbit/s) and fitting (on, off): each drone and the ground
station in their own network namespace, links shaped with tbf, replay at rate 0.25. Writes
benchmarks/bench_links.md (table), bench_links.png (plot) and bench_links.json (every run's
figures, machine and load). About 15 minutes on 2 cores; progress on stderr. Benchmarks
report; they assert nothing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from rsdfm_bench.machine import competing_processes, machine_facts
from rsdfm_core.bag import write_bag
from rsdfm_core.world.config import WorldConfig
from rsdfm_core.world.simulator import Simulator

HERE = Path(__file__).resolve().parent
RSDFM = str(Path(sys.executable).with_name('rsdfm'))
LINKS_MBIT = (1, 2, 5, 10, 20)


def simulate(out: Path, drones: int, frames: int, seed: int) -> Path:
    """Simulate the bag every run replays."""
    shutil.rmtree(out, ignore_errors=True)
    return write_bag(out, Simulator(WorldConfig(seed=seed, drones=drones, dense_gt=False))
                     .frames(frames))


def fleet_net(bag: Path, mbit: float, fit: bool, rate: float, out: Path) -> dict:
    """One `rsdfm fleet-net` run's figures (or the error it ended with)."""
    cmd = [RSDFM, 'fleet-net', '--bag', str(bag), '--link-mbit', str(mbit), '--rate', str(rate),
           '--out', str(out), '--json', str(out / 'figures.json')] + ([] if fit else ['--no-fit'])
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    print(f'bench_links: {mbit:g} Mbit/s, fit {fit}: exit {proc.returncode} after '
          f'{time.monotonic() - started:.0f} s', file=sys.stderr, flush=True)
    if not (out / 'figures.json').is_file():
        return {'error': proc.stderr.strip().splitlines()[-1:] or ['no output']}
    return json.loads((out / 'figures.json').read_text())


def _mean(values: list) -> float:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else float('nan')


def row(mbit: float, fit: bool, fig: dict) -> dict:
    """Pick the figures of one run that the table and plot show (means over the drones)."""
    if 'error' in fig:
        return {'mbit': mbit, 'fit': fit, 'error': fig['error'][0]}
    drones = list(fig['drones'].values())
    return {'mbit': mbit, 'fit': fit, 'ap50': fig['ap50'], 'frames': fig['frames'],
            'frames_with_detections': fig['frames_with_detections'],
            'latency_ms_median': fig['latency_ms_median'],
            'maps_fused_share': _mean([d['maps_fused'] / max(1, fig['frames']) for d in drones]),
            'payload_bytes_per_map': _mean([d['payload_bytes_per_map'] for d in drones]),
            'wire_bytes_per_map': _mean([d['wire_bytes_per_map'] for d in drones]),
            'wire_to_payload': _mean([d['wire_to_payload'] for d in drones]),
            'codec_budget': ' / '.join(sorted({d['codec_budget'] for d in drones})),
            'link_overhead': fig['node_parameters']['link_overhead'],
            'startup_bytes_down': _mean([d['startup_bytes_down'] for d in drones]),
            'connect_s': fig['connect_s']}


def _f(x, digits: int = 0) -> str:
    return 'n/a' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.{digits}f}'


def table(rows: list[dict]) -> list[str]:
    head = ('| link Mbit/s | codec | AP@0.5 | frames with detections | maps fused | '
            'latency median ms | payload B/map | wire B/map | wire / payload | budget |')
    lines = [head, '|' + '---|' * head.count(' | ') + '---|']
    for r in rows:
        fit = 'fitted' if r['fit'] else 'not fitted'
        if 'error' in r:
            lines.append(f"| {r['mbit']:g} | {fit} | run failed: {r['error']} |" + ' |' * 7)
            continue
        lines.append(
            f"| {r['mbit']:g} | {fit} | {_f(r['ap50'], 3)} | "
            f"{r['frames_with_detections']}/{r['frames']} | {_f(100 * r['maps_fused_share'])} % | "
            f"{_f(r['latency_ms_median'])} | {_f(r['payload_bytes_per_map'])} | "
            f"{_f(r['wire_bytes_per_map'])} | {_f(r['wire_to_payload'], 3)} | "
            f"{r['codec_budget']} |")
    return lines


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = (('ap50', 'BEV AP@0.5'), ('frames_delivered', 'frames with detections (%)'),
              ('latency_ms_median', 'latency, median (ms, wall clock)'))
    for fit, style in ((True, 'o-'), (False, 's--')):
        rs = [r for r in rows if r['fit'] == fit and 'error' not in r]
        xs = [r['mbit'] for r in rs]
        values = {'ap50': [r['ap50'] for r in rs],
                  'frames_delivered': [100 * r['frames_with_detections'] / r['frames']
                                       for r in rs],
                  'latency_ms_median': [r['latency_ms_median'] for r in rs]}
        for ax, (key, label) in zip(axes, panels):
            legend = 'codec fitted to the link' if fit else 'not fitted'
            ax.plot(xs, values[key], style, label=legend)
            ax.set_xscale('log')
            ax.set_xticks(LINKS_MBIT, [str(m) for m in LINKS_MBIT])
            ax.set_xlabel('radio link, Mbit/s per drone')
            ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    fig.suptitle('rsdfm fleet-net: 2 drones, each on its own network namespace and shaped link')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument('--frames', type=int, default=40)
    p.add_argument('--drones', type=int, default=2)
    p.add_argument('--seed', type=int, default=11)
    p.add_argument('--rate', type=float, default=0.25)
    p.add_argument('--links', default=','.join(map(str, LINKS_MBIT)),
                   help='link rates, Mbit/s, comma-separated')
    p.add_argument('--out', default=str(HERE), help='where the table, plot and JSON go')
    args = p.parse_args()
    if os.geteuid() != 0:
        print('bench_links: error: needs root (rsdfm fleet-net creates network namespaces)',
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix='rsdfm_bench_links_'))
    started, load_start = time.monotonic(), os.getloadavg()
    busy_start = competing_processes()
    bag = simulate(work / 'bag', args.drones, args.frames, args.seed)
    rows, runs = [], {}
    for mbit in [float(m) for m in args.links.split(',')]:
        for fit in (True, False):
            name = f'{mbit:g}mbit_{"fit" if fit else "nofit"}'
            runs[name] = fleet_net(bag, mbit, fit, args.rate, work / name)
            rows.append(row(mbit, fit, runs[name]))
    out = Path(args.out)
    meta = {'machine': machine_facts(), 'load_average_start': [round(x, 2) for x in load_start],
            'load_average_end': [round(x, 2) for x in os.getloadavg()],
            'busy_processes_start': busy_start, 'busy_processes_end': competing_processes(),
            'seconds': round(time.monotonic() - started), 'frames': args.frames,
            'drones': args.drones, 'rate': args.rate, 'seed': args.seed}
    (out / 'bench_links.json').write_text(json.dumps({'meta': meta, 'rows': rows, 'runs': runs},
                                                     indent=2, default=str) + '\n')
    plot(rows, out / 'bench_links.png')
    lines = [f'Written by `python benchmarks/bench_links.py` on {meta["machine"]["date"]} at '
             f'commit {meta["machine"]["commit"]}, in {meta["seconds"]} s: {args.drones} drones, '
             f'{args.frames} frames at 640x480 (seed {args.seed}), replay rate {args.rate:g}. '
             f'Load average at start / end: {meta["load_average_start"]} / '
             f'{meta["load_average_end"]}.', '', *table(rows)]
    (out / 'bench_links.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
