"""`rsdfm train-head`: a head for a new BEV task on the fused maps of the frozen shipped model."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from rsdfm_core.cli import UserError

HELP = ('train a head for a new BEV task (road, building, stationary) on the fused maps of the '
        'frozen model: no drone is retrained or redeployed')
TRAIN_SEEDS = '100-123'
TEST_SEEDS = '5001,5003,5004,5005'


def parse_seeds(text: str, name: str) -> list[int]:
    """'100-103,110' -> [100, 101, 102, 103, 110]; UserError naming `name` if malformed."""
    out = []
    try:
        for part in text.split(','):
            lo, _, hi = part.strip().partition('-')
            out += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise UserError(f'{name}: expected seeds like 100-123,130, got {text!r}') from None
    if not out:
        raise UserError(f'{name}: no seeds in {text!r}')
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rsdfm_core.tasks.layers import TASKS
    parser.add_argument('--task', required=True, choices=sorted(TASKS),
                        help='; '.join(f'{k}: {v}' for k, v in TASKS.items()))
    parser.add_argument('--out', required=True, help='head file to write (a few kB)')
    parser.add_argument('--weights', help='model whose fused maps the head reads (default: '
                        'the shipped one)')
    parser.add_argument('--seeds', default=TRAIN_SEEDS,
                        help=f'simulated training scenes (default {TRAIN_SEEDS})')
    parser.add_argument('--test-seeds', default=TEST_SEEDS,
                        help=f'held-out scenes it is scored on (default {TEST_SEEDS})')
    parser.add_argument('--frames', type=int, default=8, help='scenes per seed (default 8)')
    parser.add_argument('--every', type=int, default=5,
                        help='frames between two scenes of a seed (default 5, 0.5 s)')
    parser.add_argument('--history', action='store_true',
                        help='also give the head the fused map of the scene before (--every '
                             'frames earlier): motion, for tasks such as stationary; trained and '
                             'scored on the scenes that have one')
    parser.add_argument('--iterations', type=int, default=600, help='default 600')
    parser.add_argument('--batch', type=int, default=4, help='scenes per iteration (default 4)')
    parser.add_argument('--lr', type=float, default=2e-3, help='default 0.002')
    parser.add_argument('--unfreeze', choices=['none', 'fusion', 'all'], default='none',
                        help='for comparison, also train a copy of the fusion side (fusion) or '
                             'of the whole model from the images (all); the head then needs '
                             'that copy, so no head file is written (default none)')
    parser.add_argument('--cache-dir', default='out/task_scenes',
                        help='rendered scenes are kept here (default out/task_scenes)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--json', help='write the scores to this file')


def run(args: argparse.Namespace) -> int:
    import torch

    from rsdfm_core.model.runtime import Runtime
    from rsdfm_core.tasks.head import save_head
    from rsdfm_core.tasks.scenes import cached_images, cached_scenes
    from rsdfm_core.training.loop import log as log_stderr
    from rsdfm_core.world import WorldConfig
    from rsdfm_core.tasks.train import score_head, train_head

    for name in ('frames', 'every', 'iterations', 'batch', 'threads'):
        if getattr(args, name) < 1:
            raise UserError(f'--{name} must be >= 1, got {getattr(args, name)}')
    seeds = parse_seeds(args.seeds, '--seeds')
    test_seeds = parse_seeds(args.test_seeds, '--test-seeds')
    if set(seeds) & set(test_seeds):
        raise UserError(f'--seeds and --test-seeds share {sorted(set(seeds) & set(test_seeds))}')
    if args.weights and not Path(args.weights).is_file():
        raise UserError(f'weights not found: {args.weights}')
    torch.set_num_threads(args.threads)
    rt = Runtime.load(args.weights, threads=args.threads)
    log_stderr(f'train-head: task {args.task} on the fused maps of model {rt.model_id} '
               f'({len(seeds)} training seeds x {args.frames} scenes, {len(test_seeds)} held out)')
    train = cached_scenes(args.cache_dir, rt, seeds, args.frames, args.every, log=log_stderr)
    test = cached_scenes(args.cache_dir, rt, test_seeds, args.frames, args.every,
                         log=log_stderr)
    images = test_images = None
    if args.unfreeze == 'all':
        images = cached_images(args.cache_dir, rt, seeds, args.frames, args.every,
                               log=log_stderr)
        test_images = cached_images(args.cache_dir, rt, test_seeds, args.frames, args.every,
                                    log=log_stderr)
    head, side, losses = train_head(rt, train, args.task, args.iterations, args.lr, args.batch,
                                    args.unfreeze, log=log_stderr, images=images,
                                    history=args.history)
    scores = score_head(rt, test, args.task, head, side, images=test_images,
                        history=args.history)
    history_s = args.every / WorldConfig().rate_hz if args.history else 0.0   # as the scenes
    result = {'task': args.task, 'unfreeze': args.unfreeze, 'model_id': rt.model_id,
              'history_s': history_s,
              'iterations': args.iterations, 'train_seeds': args.seeds,
              'test_seeds': args.test_seeds, 'scenes_per_seed': args.frames,
              'final_loss': round(float(sum(losses[-50:]) / len(losses[-50:])), 4), **scores}
    variant = {'none': 'frozen model', 'fusion': 'fusion side unfrozen',
               'all': 'whole model unfrozen'}[args.unfreeze]
    variant += ', with the map of the scene before' if args.history else ''
    print(f'train-head: {args.task} ({variant}): IoU {scores["iou"]:.3f} on '
          f'{scores["scenes"]} held-out scenes')
    if side is None:
        save_head(args.out, head, args.task, rt.model_id, result)
        print(f'train-head: wrote {args.out} ({Path(args.out).stat().st_size} B)')
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + '\n')
    return 0
