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


def parse_pose_noise(text: str | None) -> tuple[float, float]:
    """'METRES,DEGREES' (e.g. 1.0,1.0) -> (1.0, 1.0); None -> no noise."""
    if text is None:
        return 0.0, 0.0
    try:
        metres, degrees = (float(x) for x in text.split(','))
    except ValueError:
        raise UserError(f'--pose-noise must look like METRES,DEGREES (e.g. 1.0,1.0), got '
                        f'{text!r}') from None
    if not (math.isfinite(metres) and math.isfinite(degrees)) or metres < 0 or degrees < 0:
        raise UserError(f'--pose-noise needs finite METRES >= 0 and DEGREES >= 0, got {text!r}')
    return metres, degrees


def fleet_errors(args: argparse.Namespace):
    """Return the FleetErrors the options ask for; bad values become UserError."""
    from rsdfm_core.fleet_errors import FleetErrors
    metres, degrees = parse_pose_noise(args.pose_noise)
    drones = tuple(d.strip() for d in args.drones.split(',')) if args.drones else None
    if drones is not None and not all(drones):
        raise UserError(f'--drones wants a comma-separated list of drone ids, got {args.drones!r}')
    reference = None if args.reference == 'none' else args.reference
    try:
        return FleetErrors(metres, degrees, args.delay, reference or None, drones, args.seed)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def choose_region(text: str, bag: Path, rt) -> tuple[dict, dict]:
    """Set rt.region as --region asks; return (region and its source, the bag's class map)."""
    from rsdfm_core.bag.source import custom_data
    from rsdfm_core.geometry import BevGrid
    from rsdfm_core.importers.nuscenes import SOURCE_KEY
    from rsdfm_core.regions import region_fields, region_from_record, REGION_KEY
    meta = custom_data(bag)
    try:
        classes = json.loads(meta[SOURCE_KEY]).get('classes', {}) if SOURCE_KEY in meta else {}
    except ValueError:
        classes = {}
    source = 'the model config'
    if text == 'auto' and REGION_KEY in meta:
        try:
            rt.region = region_from_record(meta[REGION_KEY])
        except ValueError as exc:
            raise UserError(f'{bag}: metadata.yaml: {exc}') from None
        source = 'the bag'
    elif text not in ('auto', 'model'):
        try:
            values = [float(v) for v in text.split(',')]
            if len(values) not in (4, 5):
                raise ValueError
        except ValueError:
            raise UserError(f'--region wants auto, model or CX,CY,SIZE_X,SIZE_Y[,RES] in '
                            f'metres, got {text!r}') from None
        values += [rt.region.resolution] * (5 - len(values))
        if not all(math.isfinite(v) for v in values) or min(values[2:]) <= 0:
            raise UserError(f'--region needs finite values and positive sizes, got {text!r}')
        rt.region = BevGrid.centred(*values)
        source = '--region'
    return {**region_fields(rt.region), 'source': source}, classes


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
    parser.add_argument('--task', metavar='NAME',
                        help="score a new task's layer instead (road, building, stationary: "
                             'IoU over the cells some drone saw) with its shipped head or --head')
    parser.add_argument('--head', help='task head file from rsdfm train-head (with --task)')
    parser.add_argument('--region', default='auto', metavar='auto|model|CX,CY,SIZE_X,SIZE_Y[,RES]',
                        help="the fusion region scored: the bag's own (recorded by rsdfm import) "
                             "or else the model's (auto, default), the model's, or given in "
                             "metres (resolution default: the model's); said in the output")
    parser.add_argument('--centre-votes', action='store_true',
                        help="move each box's centre toward the centre votes of the vehicle "
                             "cells inside it (the segmentation head's; README, Sharper boxes)")
    parser.add_argument('--heat-centres', action='store_true',
                        help="place each box's centre halfway between its regressed offset and "
                             "where its heatmap peak's neighbours put it (README, Sharper boxes)")
    parser.add_argument('--json', help='write the metrics to this JSON file')
    parser.add_argument('--max-frames', type=int, help='evaluate only the first N frames')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    errors = parser.add_argument_group(
        'fleet errors', 'what a real fleet meets, applied to the bag before the model sees it '
        '(seeded, reproducible; the defaults change nothing)')
    errors.add_argument('--pose-noise', metavar='METRES,DEGREES',
                        help="Gaussian error of each drone's believed pose, per drone per frame: "
                             'sigma in metres on x, y, z and in degrees on yaw, pitch, roll '
                             '(e.g. 1.0,1.0)')
    errors.add_argument('--delay', type=float, default=0.0, metavar='MS',
                        help="each drone's view (image and pose) from MS milliseconds before "
                             'the fusion stamp, a whole number of frame periods (default 0)')
    errors.add_argument('--drones', metavar='ID,ID,...',
                        help='evaluate only these drones of the bag, in this order '
                             '(default: all)')
    errors.add_argument('--reference', default='first', metavar='first|none|ID',
                        help='the drone that keeps its exact, current pose and view: the first '
                             'evaluated drone (default), a drone id, or none (every drone errs; '
                             'see centre_offset_m)')
    errors.add_argument('--seed', type=int, default=0, help='seed of the pose noise (default 0)')
    errors.add_argument('--align', choices=('off', 'keep', 'drop'), default='off',
                        help='undo pose errors between drones on the fusion side by aligning '
                             "each map to the reference drone's (model/align.py); a map that "
                             'cannot be aligned is fused as it came (keep) or left out (drop); '
                             'default off')
    errors.add_argument('--align-signal', choices=('decoded', 'maps'), default='decoded',
                        help="what --align matches: each drone's map through the fusion side "
                             'alone (decoded, default) or the maps as sent (maps)')
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
    if args.head and not args.task:
        raise UserError('--head needs --task (the task the head is for)')
    if args.task:
        from rsdfm_core.tasks.layers import check_task
        try:
            check_task(args.task)
        except ValueError as exc:
            raise UserError(f'--task: {exc}') from None
        if args.mode != 'collaborative':
            raise UserError(f'--task scores the collaborative fused map, not --mode {args.mode}')
        if args.head and not Path(args.head).is_file():
            raise UserError(f'--head {args.head} does not exist')
    if args.delay < 0 or not math.isfinite(args.delay):
        raise UserError(f'--delay must be a number of milliseconds >= 0, got {args.delay:g}')
    errors = fleet_errors(args)
    from rsdfm_core.bag import BagError, read_frames
    from rsdfm_core.fleet_errors import apply_fleet_errors
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
    try:
        frames, applied = apply_fleet_errors(frames, errors)
    except ValueError as exc:
        raise UserError(f'{bag}: {exc}') from None
    if not frames:
        raise UserError(f'bag {bag} has no frames left with a --delay of {args.delay:g} ms')
    region_info, classes = choose_region(args.region, bag, rt)
    print(
        f'evaluate: {len(frames)} frames, mode {args.mode}, model {rt.model_id}, region '
        f'{region_info["size_x"]:g} x {region_info["size_y"]:g} m at ({region_info["cx"]:g}, '
        f'{region_info["cy"]:g}), {region_info["resolution"]:g} m cells, from '
        f'{region_info["source"]}', file=sys.stderr
    )
    align = None
    if args.align != 'off':
        from rsdfm_core.model.align import AlignSettings
        align = AlignSettings(unaligned=args.align, signal=args.align_signal)
    if args.task:
        res = _task_scores(args, bag, frames, rt, budget, align, applied['reference'])
    else:
        res = evaluate_frames(frames, rt, args.mode, budget, align=align,
                              reference=applied['reference'], fleet_errors=errors,
                              centre_votes=args.centre_votes, heat_centres=args.heat_centres)
    res['bag'] = str(bag)
    res['region'] = region_info
    if res.get('gt_outside_region'):
        print(f'evaluate: {res["gt_outside_region"]} boxes that some drone sees lie outside the '
              'region and were not scored (--region sets another)', file=sys.stderr)
    if classes:
        res['per_class']['dataset_classes'] = classes
    res['fleet_errors'] = applied
    text = json.dumps(json_safe(res), indent=2, allow_nan=False)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + '\n')
    print(text)
    return 0


def _task_scores(args, bag: Path, frames: list, rt, budget, align, reference) -> dict:
    """`evaluate --task`: IoU of the task head's layer on the bag."""
    from rsdfm_core.bag.source import custom_data
    from rsdfm_core.tasks.evaluate import evaluate_task
    from rsdfm_core.tasks.head import TaskPredictor
    from rsdfm_core.world.simulator import town_from_record, WORLD_KEY
    try:
        predictor = TaskPredictor(rt, args.head, args.task)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    record = custom_data(bag).get(WORLD_KEY)
    try:
        town = town_from_record(record) if record else None
        return evaluate_task(frames, rt, predictor, town, budget, align, reference)
    except ValueError as exc:
        raise UserError(f'{bag}: {exc}') from None
