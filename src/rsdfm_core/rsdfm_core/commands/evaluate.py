"""`rsdfm evaluate`: detection, segmentation, trajectory metrics and bytes of a method on a bag."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import sys

from rsdfm_core.cli import UserError

HELP = (
    'evaluate the model on a bag: BEV AP@0.5/0.7, seg IoU/PQ, ADE/FDE, bytes per drone per frame'
)
MODES = ('collaborative', 'single', 'late', 'raw', 'absolute-depth')


def parse_budget(text: str | None) -> dict | None:
    """'TOPK:BITS' (e.g. 1024:8) -> {'topk': 1024, 'bits': 8}."""
    if text is None:
        return None
    parts = text.split(':')
    try:
        if len(parts) != 2:
            raise ValueError
        topk, bits = int(parts[0]), int(parts[1])
    except ValueError:
        raise UserError(f'--budget must look like TOPK:BITS (e.g. 1024:8), got {text!r}') from None
    if topk < 0 or not 1 <= bits <= 8:
        raise UserError(f'--budget needs TOPK >= 0 and 1 <= BITS <= 8, got {text!r}')
    return {'topk': topk, 'bits': bits}


def json_safe(value):
    """Map NaN / inf to None for strict JSON output (e.g. AP of a class with no ground truth)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--bag', required=True, help='rosbag2 directory (e.g. from rsdfm simulate)'
    )
    parser.add_argument(
        '--weights',
        help='checkpoint (default: the shipped model; absolute-depth: the shipped LSS model)',
    )
    parser.add_argument(
        '--mode',
        choices=MODES,
        default='collaborative',
        help='method to evaluate (default collaborative)',
    )
    parser.add_argument(
        '--budget', help='codec budget TOPK:BITS (default from the model config, e.g. 1024:8)'
    )
    parser.add_argument('--json', help='write the metrics to this JSON file')
    parser.add_argument('--max-frames', type=int, help='evaluate only the first N frames')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument(
        '--skip-bad',
        action='store_true',
        help='go on with what is readable in a cut or damaged bag (drones with missing topics, '
        'unreadable messages and incomplete views are left out, and said on stderr)',
    )


def run(args: argparse.Namespace) -> int:
    bag = Path(args.bag)
    if not bag.is_dir() or not (bag / 'metadata.yaml').is_file():
        raise UserError(f'--bag {bag} is not a rosbag2 directory (no metadata.yaml)')
    if args.weights and not Path(args.weights).is_file():
        raise UserError(f'--weights {args.weights} does not exist')
    if args.max_frames is not None and args.max_frames < 1:
        raise UserError(f'--max-frames must be >= 1, got {args.max_frames}')
    budget = parse_budget(args.budget)
    from rsdfm_core.bag import BagError, read_frames
    from rsdfm_core.training.evaluate import evaluate_frames, load_runtime
    try:
        rt = load_runtime(args.mode, args.weights, args.threads)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    frames = []
    try:
        for f in read_frames(bag, skip_bad=args.skip_bad, require_ground_truth=True):
            frames.append(f)
            if args.max_frames and len(frames) >= args.max_frames:
                break
    except BagError as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:
        raise UserError(f'cannot read bag {bag}: {exc}') from None
    if not frames:
        raise UserError(f'bag {bag} has no frames')
    print(
        f'evaluate: {len(frames)} frames, mode {args.mode}, model {rt.model_id}', file=sys.stderr
    )
    res = evaluate_frames(frames, rt, args.mode, budget)
    res['bag'] = str(bag)
    text = json.dumps(json_safe(res), indent=2, allow_nan=False)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + '\n')
    print(text)
    return 0
