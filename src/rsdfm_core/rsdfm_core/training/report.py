"""The accuracy-versus-bytes study: every method and several codec budgets on held-out bags.

    python -m rsdfm_core.training.report --bag BAG [BAG ...] [--high-bag BAG [BAG ...]] --out docs

Writes OUT/results.json, OUT/accuracy_vs_bytes.md (table) and OUT/accuracy_vs_bytes.png (plot).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import sys

BUDGETS = [
    {'topk': 0, 'bits': 4},
    {'topk': 256, 'bits': 6},
    {'topk': 1024, 'bits': 8},
    {'topk': 4096, 'bits': 8},
]


def run_study(
    bags: list[str],
    high_bags: list[str] | None,
    weights: str | None,
    abs_weights: str | None,
    threads: int = 1,
) -> list[dict]:
    from rsdfm_core.bag import read_frames
    from rsdfm_core.training.evaluate import evaluate_frames, load_runtime, offset_sequences
    frames = offset_sequences([list(read_frames(b)) for b in bags])
    bag = '+'.join(Path(b).name for b in bags)
    rt = load_runtime('collaborative', weights, threads)
    rows = []
    cache: dict = {}                 # BEV maps of every view, shared by all budgets and methods

    def add(name, res, bag_name):
        res = {**res, 'name': name, 'bag': bag_name}
        rows.append(res)
        print(f'report: {name} on {bag_name}: AP50 {res["ap50"]:.3f} AP70 {res["ap70"]:.3f} '
              f'bytes {res["bytes_per_agent_frame"]:.0f}', file=sys.stderr, flush=True)
    for b in BUDGETS:
        add(
            f'collaborative k={b["topk"]} b={b["bits"]}',
            evaluate_frames(frames, rt, 'collaborative', b, bev_cache=cache),
            bag,
        )
    for mode in ('raw', 'single', 'late'):
        add(mode, evaluate_frames(frames, rt, mode, bev_cache=cache), bag)
    try:
        art = load_runtime('absolute-depth', abs_weights, threads)
    except FileNotFoundError as exc:
        print(f'report: skipping absolute-depth: {exc}', file=sys.stderr)
        art = None
    if art is not None:
        add('absolute-depth', evaluate_frames(frames, art, 'absolute-depth'), bag)
    cache.clear()
    if high_bags:
        hf = offset_sequences([list(read_frames(b)) for b in high_bags])
        high_bag = '+'.join(Path(b).name for b in high_bags)
        add('collaborative (150-200 m)', evaluate_frames(hf, rt, 'collaborative'), high_bag)
        if art is not None:
            add('absolute-depth (150-200 m)', evaluate_frames(hf, art, 'absolute-depth'), high_bag)
    return rows


def fmt(x: float | None, digits: int = 3) -> str:
    return '-' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.{digits}f}'


def write_outputs(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    from rsdfm_core.commands.evaluate import json_safe
    (out / 'results.json').write_text(json.dumps(json_safe(rows), indent=2) + '\n')
    lines = [
        '| method | bags | bytes / drone / frame | log2 bytes | mAP@0.5 | mAP@0.7 '
        '| car AP@0.5 | car AP@0.7 '
        '| seg IoU | PQ | ADE@3s | ADE@3s (CV) |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ]
    for r in rows:
        lines.append(
            f'| {r["name"]} | {r["bag"]} | {r["bytes_per_agent_frame"]:.0f} | '
            f'{fmt(r["log2_bytes"], 1)} | '
            f'{fmt(r["ap50"])} | {fmt(r["ap70"])} | {fmt(r["per_class"]["ap50"]["car"])} | '
            f'{fmt(r["per_class"]["ap70"]["car"])} | {fmt(r["iou"])} | {fmt(r["pq"])} | '
            f'{fmt(r["ade"]["3s"], 2)} | {fmt(r["ade_cv"]["3s"], 2)} |'
        )
    (out / 'accuracy_vs_bytes.md').write_text('\n'.join(lines) + '\n')
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    first_bag = rows[0]['bag']
    curve = [r for r in rows if r['name'].startswith('collaborative k=') and r['bag'] == first_bag]
    ax.plot(
        [math.log2(r['bytes_per_agent_frame']) for r in curve],
        [r['ap50'] for r in curve],
        'o-',
        label='collaborative, HLF codec (AP@0.5)',
    )
    ax.plot(
        [math.log2(r['bytes_per_agent_frame']) for r in curve],
        [r['ap70'] for r in curve],
        's--',
        label='collaborative, HLF codec (AP@0.7)',
    )
    ax.plot(
        [math.log2(r['bytes_per_agent_frame']) for r in curve],
        [r['per_class']['ap50']['car'] for r in curve],
        '^:',
        label='collaborative, HLF codec (car AP@0.5)',
    )
    for r in rows:
        if r['bag'] != first_bag or r['name'].startswith('collaborative k='):
            continue
        if r['bytes_per_agent_frame'] > 0:
            ax.scatter(
                [math.log2(r['bytes_per_agent_frame'])], [r['ap50']], marker='x', s=60, zorder=3
            )
            ax.annotate(
                r['name'],
                (math.log2(r['bytes_per_agent_frame']), r['ap50']),
                textcoords='offset points',
                xytext=(4, 4),
                fontsize=8,
            )
    ax.set_xlabel('log2 bytes per drone per frame')
    ax.set_ylabel('BEV mean AP')
    ax.set_title('rsdfm: accuracy vs bytes (held-out seeds, 4 drones)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(out / 'accuracy_vs_bytes.png', dpi=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        '--bag', nargs='+', required=True, help='held-out bags in the training altitude range'
    )
    ap.add_argument(
        '--high-bag', nargs='+', help='held-out bags above the training altitudes (150-200 m)'
    )
    ap.add_argument('--weights')
    ap.add_argument('--abs-weights')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default='docs')
    args = ap.parse_args()
    rows = run_study(args.bag, args.high_bag, args.weights, args.abs_weights, args.threads)
    write_outputs(rows, Path(args.out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
