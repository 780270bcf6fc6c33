"""`rsdfm train`: train the RS-DFM model from simulator data (cached on disk first)."""
from __future__ import annotations

import argparse
from pathlib import Path

from rsdfm_core.cli import UserError

HELP = 'train the RS-DFM model on simulated frames (YAML config, resumable checkpoints)'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True, help='training YAML (e.g. config/model.yaml)')
    parser.add_argument(
        '--out', required=True, help='checkpoint to write (optimizer state goes to OUT.resume.pt)'
    )
    parser.add_argument(
        '--resume', action='store_true', help='continue from OUT.resume.pt if it exists'
    )
    parser.add_argument(
        '--lift',
        choices=['relative', 'absolute'],
        help='override model.lift (absolute = LSS ablation)',
    )
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--iterations', type=int, help='override train.iterations')
    parser.add_argument('--traj-iterations', type=int, help='override train.traj_iterations')
    parser.add_argument('--cache-dir', help='override train.cache_dir')
    parser.add_argument('--log', help='also append progress lines to this file')


def run(args: argparse.Namespace) -> int:
    from rsdfm_core.model.config import load_config
    if not Path(args.config).is_file():
        raise UserError(f'config file not found: {args.config}')
    if args.threads < 1:
        raise UserError(f'--threads must be >= 1, got {args.threads}')
    try:
        config = load_config(args.config)
    except Exception as exc:
        raise UserError(f'cannot read config {args.config}: {exc}') from None
    if args.lift:
        config['model']['lift'] = args.lift
    if config['model']['lift'] not in ('relative', 'absolute'):
        raise UserError(
            f"model.lift must be 'relative' or 'absolute', got {config['model']['lift']!r}"
        )
    tr = config.setdefault('train', {})
    for key, val in (('iterations', args.iterations), ('traj_iterations', args.traj_iterations),
                     ('cache_dir', args.cache_dir)):
        if val is not None:
            if key != 'cache_dir' and val < 0:
                raise UserError(f'--{key.replace("_", "-")} must be >= 0, got {val}')
            tr[key] = val
    from rsdfm_core.training.loop import train
    train(config, args.out, resume=args.resume, threads=args.threads, log_path=args.log)
    return 0
