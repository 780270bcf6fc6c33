"""Robustness of the shipped model to the errors a fleet meets: pose noise, delay, fleet size.

Runs `rsdfm evaluate` with its fleet-error options over held-out simulated sequences (seeds
never used in training) and writes the tables (mean and spread over the sequences) and a plot:

    python benchmarks/robustness.py [--out out/robustness] [--workers 2]

Resumable: a run whose JSON exists is not run again. Bags: seeds 5001 (60 frames) and
5003-5005 (40 frames), 40-120 m, as the README's held-out set, with 4 drones (pose noise,
delay) and with 8 drones (fleet size). Writes docs/robustness.md and docs/robustness.png.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import json
from pathlib import Path
import statistics
import subprocess
import sys
import time

REPO = Path(__file__).resolve().parents[1]
SEEDS = {5001: 60, 5003: 40, 5004: 40, 5005: 40}       # held out, 40-120 m (training's range)
HIGH_SEEDS = {5002: 60, 5006: 40, 5007: 40}            # held out, 150-200 m
HIGH_ALTITUDE = '150:200'
NOISE = [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (2.0, 2.0)]
# with the reference exact, also errors mostly beyond the alignment's search (8 m, 4 deg):
# the maps it cannot align must not make the result worse than the reference drone alone
BEYOND_SEARCH = (5.0, 5.0)
DELAYS = [0, 100, 200, 400]
FLEET = [1, 2, 3, 4, 5, 6, 7, 8]


def rsdfm() -> str:
    return str(Path(sys.executable).with_name('rsdfm'))


def simulate(out: Path, seed: int, frames: int, drones: int, altitude: str | None = None) -> Path:
    """Return the held-out bag of seed (simulated on first use), at altitude MIN:MAX if given.

    Every benchmark over the held-out set takes its bags from here, so that a folder of bags
    (out/robustness/bags by default) serves them all and each bag is simulated once.
    """
    suffix = f'_{altitude.replace(":", "-")}m' if altitude else ''
    bag = out / 'bags' / f'seed{seed}_{drones}drones{suffix}'
    if not (bag / 'metadata.yaml').is_file():
        print(f'simulating {bag.name}', file=sys.stderr, flush=True)
        subprocess.run([rsdfm(), 'simulate', '--out', str(bag), '--seed', str(seed), '--frames',
                        str(frames), '--drones', str(drones), '--no-dense-gt',
                        *(['--altitude', altitude] if altitude else [])], check=True,
                       stdout=subprocess.DEVNULL)
    return bag


def mean_spread(values: list[float]) -> str:
    """`mean ± spread` over sequences (population standard deviation), as every table shows it."""
    return f'{statistics.fmean(values):.3f} ± {statistics.pstdev(values):.3f}'


ALIGNED = 'collaborative + align'      # the fusion side's map alignment (--align keep)


def runs(out: Path) -> list[dict]:
    """Every evaluation of the study: table, setting, mode, bag and the evaluate options.

    Grouped by table, so an interrupted study has whole tables first. A setting that is the
    clean case of another table reuses that run's JSON (same figures by construction).
    """
    bags = {seed: (simulate(out, seed, frames, 4), simulate(out, seed, frames, 8))
            for seed, frames in SEEDS.items()}
    todo = []

    def add(table, setting, mode, bag, options, name=None):
        if mode == ALIGNED:
            mode, options = 'collaborative', options + ['--align', 'keep']
            label = ALIGNED
        else:
            label = mode
        name = name or '_'.join([table, setting, label, bag.name])
        todo.append({'table': table, 'setting': setting, 'mode': mode, 'label': label,
                     'bag': bag, 'options': options,
                     'json': out / 'runs' / (''.join(c if c.isalnum() else '_' for c in name)
                                             + '.json')})

    exact = 'pose noise, reference drone exact'
    for seed, (four, _) in bags.items():
        for metres, degrees in NOISE + [BEYOND_SEARCH]:
            noise = ['--pose-noise', f'{metres},{degrees}']
            modes = ('collaborative', ALIGNED, 'late') + (('single',) if metres == 0 else ())
            for mode in modes:
                add(exact, f'{metres:g} m / {degrees:g} deg', mode, four, noise)
    for seed, (four, _) in bags.items():
        for metres, degrees in NOISE[1:]:
            noise = ['--pose-noise', f'{metres},{degrees}', '--reference', 'none']
            for mode in ('collaborative', ALIGNED, 'late'):
                add('pose noise, every drone noisy', f'{metres:g} m / {degrees:g} deg', mode,
                    four, noise)
    for seed, (four, _) in bags.items():
        for delay in DELAYS:
            for mode in ('collaborative', 'late'):
                clean = '_'.join([exact, '0 m / 0 deg', mode, four.name]) if not delay else None
                add('delay', f'{delay} ms', mode, four, ['--delay', str(delay)], clean)
    for seed, (_, eight) in bags.items():
        for n in FLEET:
            drones = ','.join(f'uav{i + 1}' for i in range(n))
            for mode in ('collaborative', 'late'):
                add('fleet size', f'{n} drones', mode, eight, ['--drones', drones])
    return todo


def evaluate(run: dict) -> dict:
    if not run['json'].is_file():
        run['json'].parent.mkdir(parents=True, exist_ok=True)
        cmd = [rsdfm(), 'evaluate', '--bag', str(run['bag']), '--mode', run['mode'],
               '--json', str(run['json']), *run['options']]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f'{" ".join(cmd)} failed:\n{proc.stderr[-2000:]}')
    return json.loads(run['json'].read_text())


def summarise(todo: list[dict], results: list[dict]) -> dict:
    """Return table -> setting -> mode -> {ap50, ap70, offset, misplaced_m, misplaced_deg}.

    offset: how far the whole fused map sits off the world, median over frames (evaluate's
    frame_offset_m).

    Each as (mean, spread) over the sequences. misplaced: median distance and turn of the
    erring drones' ground from its place (metrics/misplacement.py), after the alignment where
    there is one; absent without pose noise.
    """
    groups: dict = {}
    for run, res in zip(todo, results):
        cell = groups.setdefault(run['table'], {}).setdefault(run['setting'], {}).setdefault(
            run['label'], {'ap50': [], 'ap70': [], 'offset': [], 'misplaced_m': [],
                           'misplaced_deg': []})
        cell['ap50'].append(res['ap50'])
        cell['ap70'].append(res['ap70'])
        if res.get('frame_offset_frames'):
            cell['offset'].append(res['frame_offset_m'])
        moved = res.get('misplacement') or {}
        where = moved.get('after') or moved.get('before')
        if where and where.get('drone_frames'):
            cell['misplaced_m'].append(where['median_m'])
            cell['misplaced_deg'].append(where['median_deg'])
    for table in groups.values():
        for setting in table.values():
            for mode, cell in setting.items():
                setting[mode] = {k: (statistics.mean(v), statistics.pstdev(v)) for k, v in
                                 cell.items() if v}
    return groups


def markdown(groups: dict, sequences: int) -> str:
    lines = [f'Held-out sequences (seeds {", ".join(map(str, SEEDS))}, 40-120 m), shipped '
             f'weights; mean ± spread (population standard deviation) over the {sequences} '
             'sequences. Made by `python benchmarks/robustness.py`.', '']
    for table, settings in groups.items():
        modes = list(dict.fromkeys(m for s in settings.values() for m in s))
        offset = table == 'pose noise, every drone noisy'
        misplaced = table.startswith('pose noise')
        head = ' | '.join(f'{m} AP@0.5 | {m} AP@0.7' for m in modes)
        extra = (' ground misplaced, as sent / aligned |' if misplaced else '') + (
            ' map offset per frame, collab. / aligned |' if offset else '')
        lines += [f'### {table}', '', f'| setting | {head} |{extra}',
                  '|---|' + '---:|' * (2 * len(modes) + misplaced + offset)]
        for setting, by_mode in settings.items():
            cells = []
            for m in modes:
                for key in ('ap50', 'ap70'):
                    cells.append(f'{by_mode[m][key][0]:.3f} ± {by_mode[m][key][1]:.3f}'
                                 if m in by_mode else '-')
            if misplaced:
                cells.append(' / '.join(
                    f"{by_mode[m]['misplaced_m'][0]:.2f} m "
                    f"{by_mode[m]['misplaced_deg'][0]:.2f} deg"
                    if 'misplaced_m' in by_mode.get(m, {}) else '-'
                    for m in ('collaborative', ALIGNED)))
            if offset:
                cells.append(' / '.join(f"{by_mode[m]['offset'][0]:.2f} m" if 'offset' in
                                        by_mode.get(m, {}) else '-'
                                        for m in ('collaborative', ALIGNED)))
            lines.append(f'| {setting} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def plot(groups: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    tables = list(groups)
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 3.6), sharey=True)
    for ax, table in zip(axes, tables):
        settings = list(groups[table])
        for mode, style, colour in (('collaborative', 'o-', 'tab:blue'),
                                    (ALIGNED, 'D-', 'tab:orange'), ('late', 's--', 'tab:green'),
                                    ('single', ':', 'tab:red')):
            xs = [i for i, s in enumerate(settings) if mode in groups[table][s]]
            if not xs:
                continue
            mean = [groups[table][settings[i]][mode]['ap50'][0] for i in xs]
            spread = [groups[table][settings[i]][mode]['ap50'][1] for i in xs]
            if len(xs) == 1:              # a level to beat (the reference drone alone)
                ax.axhline(mean[0], linestyle=style, color=colour, label=f'{mode} (noise-free)')
                continue
            ax.errorbar(xs, mean, yerr=spread, fmt=style, color=colour, capsize=3, label=mode)
        ax.set_xticks(range(len(settings)), settings, rotation=30, ha='right', fontsize=8)
        ax.set_title(table, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('AP@0.5')
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def time_alignment(bag: Path, frames: int = 20) -> dict:
    """Fusion side per frame (decode, resample, fuse, decoder) with and without alignment.

    One thread, 4 drones at 1 m / 1 deg of pose noise; the maps are encoded once beforehand.
    """
    import torch

    from rsdfm_core.bag import read_frames
    from rsdfm_core.fleet_errors import apply_fleet_errors, FleetErrors
    from rsdfm_core.model.align import AlignSettings
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder, Runtime

    torch.set_num_threads(1)
    rt = Runtime.load(None, threads=1)
    seq = [f for _, f in zip(range(frames), read_frames(bag, require_ground_truth=True))]
    seq, _ = apply_fleet_errors(seq, FleetErrors(1.0, 1.0))
    enc = DroneEncoder(rt)
    maps = [enc.encode_views(f.views) for f in seq]
    out = {}
    for name, align in (('off', None), ('keep', AlignSettings())):
        fus = FusionDecoder(rt, align=align)
        fus.fuse(maps[0])                                   # warm-up
        times = []
        for m in maps:
            t0 = time.perf_counter()
            fus.fuse(m)
            times.append((time.perf_counter() - t0) * 1e3)
        out[name] = statistics.median(times)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=str(REPO / 'out' / 'robustness'))
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--docs', default=str(REPO / 'docs'))
    parser.add_argument('--time-alignment', action='store_true',
                        help='only time the fusion side with and without alignment (a benchmark: '
                             'run it on an idle machine)')
    args = parser.parse_args()
    out = Path(args.out)
    if args.time_alignment:
        ms = time_alignment(simulate(out, 5001, SEEDS[5001], 4))
        print(f'fusion side, 4 drones, 1 thread: {ms["off"]:.1f} ms per frame without '
              f'alignment, {ms["keep"]:.1f} ms with it (median of 20 frames)')
        return 0
    todo = runs(out)
    t0 = time.monotonic()
    done = 0

    def one(run):
        nonlocal done
        res = evaluate(run)
        done += 1
        print(f'robustness: {done}/{len(todo)} {run["table"]}, {run["setting"]}, {run["label"]}, '
              f'{run["bag"].name}: AP@0.5 {res["ap50"]:.3f} ({time.monotonic() - t0:.0f} s)',
              file=sys.stderr, flush=True)
        return res

    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(one, todo))
    groups = summarise(todo, results)
    docs = Path(args.docs)
    (docs / 'robustness.md').write_text('# Robustness to pose noise, delay and fleet size\n\n'
                                        + markdown(groups, len(SEEDS)) + '\n')
    (out / 'summary.json').write_text(json.dumps(groups, indent=1))
    plot(groups, docs / 'robustness.png')
    print(f'robustness: wrote {docs / "robustness.md"} and robustness.png', file=sys.stderr)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
