"""`rsdfm bench`: speed, bandwidth and scale measured side by side in one run.

Simulates one 8-drone bag, then measures per-stage model time (1 thread and all threads), the
drone side under ONNX Runtime vs eager, BevFeature transport over DDS between two processes,
scaling with 1, 2, 4, 8 drones (in process and through the real graph), each node's processing
time against the same work in process (one drone, a graph with cores to spare), and accuracy
versus bandwidth; writes RESULTS.md, PNG plots and optionally the raw figures as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import time

from rsdfm_core.cli import UserError

HELP = (
    'measure per-stage speed, ONNX vs eager, DDS transport, fleet scaling, node overhead and '
    'accuracy vs bandwidth; write RESULTS.md'
)
SECTIONS = ('stages', 'onnx', 'transport', 'scaling', 'overhead', 'ground_station', 'bandwidth')
# more graph start-ups (10-20 s each) would take --quick past 2 minutes: `--quick --only overhead`
QUICK_LEAVES_OUT = ('overhead', 'ground_station')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--quick', action='store_true',
        help='small sizes for development (under 2 minutes; leaves out the node overhead unless '
             '--only names it)'
    )
    parser.add_argument('--json', help='also write every figure to this JSON file')
    parser.add_argument(
        '--out',
        default='benchmarks',
        help='directory for RESULTS.md and the PNGs (default benchmarks)',
    )
    parser.add_argument(
        '--work',
        help='scratch directory for the bag, ONNX file and graph logs (default out/bench)',
    )
    parser.add_argument('--weights', help='model checkpoint (default: the shipped weights)')
    parser.add_argument(
        '--from-json', help='only rewrite RESULTS.md and the plots from a JSON of an earlier run'
    )
    parser.add_argument(
        '--only', help=f'comma-separated subset of {",".join(SECTIONS)} (default: all)'
    )
    parser.add_argument(
        '--merge', metavar='JSON',
        help="keep the sections this run does not measure from an earlier run's JSON (e.g. "
             'benchmarks/RESULTS.json with --only ground_station); RESULTS.md says which '
             'sections came from which run')


def _sections(text: str | None, quick: bool = False) -> list[str]:
    """Return the measurements to run: --only's, else all (less QUICK_LEAVES_OUT if quick)."""
    if not text:
        return [s for s in SECTIONS if not (quick and s in QUICK_LEAVES_OUT)]
    chosen = [s.strip() for s in text.split(',') if s.strip()]
    bad = [s for s in chosen if s not in SECTIONS]
    if bad or not chosen:
        raise UserError(
            f'--only takes a comma-separated subset of {",".join(SECTIONS)}, got {text!r}'
        )
    return chosen


def json_safe(value):
    """Turn NaN / inf into None, tuples into lists, dict keys into str: strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def rewrite_report(path: Path, out_dir: Path) -> int:
    """RESULTS.md and the PNGs again from the figures of an earlier run (no measuring)."""
    from rsdfm_bench.report import write_plots, write_results_md
    from rsdfm_bench.targets import check_targets

    results = read_run(path, '--from-json')
    out_dir.mkdir(parents=True, exist_ok=True)
    results['targets'] = check_targets(results)
    write_results_md(results, out_dir, write_plots(results, out_dir))
    return 0


def read_run(path: Path, option: str) -> dict:
    """Return the figures of an earlier run given with `option`; UserError if it is not one."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f'{option} {path}: cannot read it ({exc})') from None
    if not isinstance(results, dict) or 'meta' not in results:
        raise UserError(f'{option} {path}: not the JSON of an rsdfm bench run (no "meta")')
    return results


def merged(earlier: dict, new: dict) -> dict:
    """Return the earlier run's sections with this run's on top.

    meta is this run's; meta.kept lists each kept section with the date and commit of its run.
    """
    old_meta = earlier['meta']
    first = {'date': old_meta['machine']['date'], 'commit': old_meta['machine']['commit']}
    kept = {s: old_meta.get('kept', {}).get(s, first)
            for s in SECTIONS if s in earlier and s not in new['meta']['sections']}
    out = {**{s: earlier[s] for s in kept}, **new}
    out['meta'] = {**new['meta'], 'kept': kept}
    return out


def run(args: argparse.Namespace) -> int:
    if args.from_json:
        return rewrite_report(Path(args.from_json), Path(args.out))
    sections = _sections(args.only, args.quick)
    earlier = read_run(Path(args.merge), '--merge') if args.merge else None
    if args.weights and not Path(args.weights).is_file():
        raise UserError(f'--weights {args.weights} does not exist')
    out_dir, work = Path(args.out), Path(args.work or 'out/bench')
    for d, what in ((out_dir, '--out'), (work, '--work')):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f'{what} {d}: cannot create the directory ({exc.strerror})') from None
    from rsdfm_bringup.dds import use_rsdfm_dds_profile
    use_rsdfm_dds_profile()          # before rclpy starts here; children inherit it
    import torch

    from rsdfm_bench.inputs import load_inputs
    from rsdfm_bench.machine import competing_processes, machine_facts
    from rsdfm_bench.plan import BenchPlan
    from rsdfm_bench.report import write_plots, write_results_md
    from rsdfm_bench.targets import check_targets
    from rsdfm_bench.timing import progress

    torch.set_num_threads(1)
    t0 = time.monotonic()
    plan = BenchPlan.quick() if args.quick else BenchPlan.full()
    import os
    load_start = [round(x, 2) for x in os.getloadavg()]
    competing = competing_processes()
    if competing:
        progress(
            f'{len(competing)} other busy process(es) share the CPU: '
            'figures will be slower and noisier'
        )
    try:
        inputs = load_inputs(work, plan, args.weights)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    rt = inputs.runtime
    results: dict = {}
    if 'stages' in sections:
        from rsdfm_bench.stages import measure_stages
        results['stages'] = measure_stages(rt, inputs.fleet(plan.drones, plan.stage_frames + 1))
    if 'onnx' in sections:
        from rsdfm_bench.onnx_export import measure_onnx
        views = [v for f in inputs.fleet(plan.drones, 3) for v in f.views]
        results['onnx'] = measure_onnx(rt, views, plan.onnx_runs, work)
    if 'transport' in sections:
        from rsdfm_bench.transport import measure_transport

        results['transport'] = measure_transport(
            rt, inputs.frames[0].views[0], plan.transport_messages, plan.transport_rate_hz, work
        )
    if 'scaling' in sections:
        from rsdfm_bench.scaling import measure_scaling
        tr = results.get('transport', {}).get('hlf-v1')
        results['scaling'] = measure_scaling(
            rt,
            inputs.frames[: plan.scaling_frames + 1],
            inputs.bag,
            len(inputs.frames),
            plan.graph_drones,
            work,
            inputs.weights,
            tr['median_ms'] if tr else None,
        )
    if 'overhead' in sections:
        from rsdfm_bench.overhead import measure_overhead

        results['overhead'] = measure_overhead(
            inputs.frames[: plan.overhead_frames + 1], inputs.bag, work, inputs.weights,
            plan.overhead_rate_hz,
        )
    if 'ground_station' in sections:
        from rsdfm_bench.ground_station import measure_ground_station

        results['ground_station'] = measure_ground_station(
            rt, inputs.frames, work, inputs.weights, plan.ground_drones)
    if 'bandwidth' in sections:
        from rsdfm_bench.bandwidth import measure_bandwidth

        results['bandwidth'] = measure_bandwidth(
            rt, inputs.fleet(plan.drones, plan.accuracy_frames)
        )
    competing = sorted(set(competing) | set(competing_processes()))
    results['meta'] = {
        'plan': plan.name,
        'sections': sections,
        'model_id': rt.model_id,
        'weights': args.weights or 'shipped default (rsdfm_core/data/rsdfm.pt)',
        'random_init': bool(rt.extra.get('random_init')),
        'machine': machine_facts(),
        'load_start': load_start,
        'competing': competing,
        'seconds': time.monotonic() - t0,
        'bag': str(inputs.bag),
    }
    if earlier:
        results = merged(earlier, results)
    results['targets'] = check_targets(results)
    plots = write_plots(results, out_dir)
    md = write_results_md(results, out_dir, plots)
    results['meta']['files'] = {
        'results_md': str(md),
        'plots': {k: str(out_dir / v) for k, v in plots.items()},
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(json_safe(results), indent=2, allow_nan=False) + '\n'
        )
    for t in results['targets']:
        verdict = {True: 'holds', False: 'does not hold', None: 'not measured'}[t['holds']]
        progress(f"target: {t['target']}: {t['measured']} -> {verdict}")
    progress(f'wrote {md} and {len(plots)} plots in {time.monotonic() - t0:.0f} s')
    return 0
