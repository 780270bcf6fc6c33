"""`rsdfm train`: train the RS-DFM model from simulator data (cached on disk first)."""
from __future__ import annotations

import argparse
from pathlib import Path

from rsdfm_core.cli import UserError

HELP = ('train the RS-DFM model on simulated frames or labelled bags (YAML config, resumable '
        'checkpoints)')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config',
                        help='training YAML (e.g. config/model.yaml; default: the built-in '
                             'settings)')
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
    data = parser.add_argument_group(
        'labelled bags', "train on bags in rsdfm's layout (simulated, rsdfm import, recorded "
        'and labelled): images, camera info, poses and /ground_truth/objects; the height '
        'targets of the ground prior come from the boxes')
    data.add_argument('--bags', nargs='+', metavar='DIR',
                      help='bags (or folders of bags) to train on instead of simulator seeds')
    data.add_argument('--val-bags', nargs='+', metavar='DIR',
                      help='bags for the validation loss (default: none with --bags)')
    data.add_argument('--init', nargs='?', const='', metavar='CKPT',
                      help='start from these weights and their model config (no value: the '
                           'shipped model), i.e. fine-tune')
    data.add_argument('--freeze', choices=('none', 'drone'), default='none',
                      help='drone: keep the drone side (image encoder, codec) as it is, so '
                           'drones need no update (default none)')


def run(args: argparse.Namespace) -> int:
    from rsdfm_core.model.config import load_config
    if args.config and not Path(args.config).is_file():
        raise UserError(f'config file not found: {args.config}')
    if args.init and not Path(args.init).is_file():
        raise UserError(f'--init {args.init} does not exist')
    if args.init is not None and args.lift:
        raise UserError('--lift does not go with --init: the model comes from the checkpoint')
    if args.val_bags and not args.bags:
        raise UserError('--val-bags goes with --bags')
    bags, val_bags = None, None
    if args.bags:
        from rsdfm_core.training.bag_data import find_bags
        try:
            bags = find_bags(args.bags)
            val_bags = find_bags(args.val_bags) if args.val_bags else None
        except ValueError as exc:
            raise UserError(str(exc)) from None
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
    from rsdfm_core.training.dataset import HEIGHT_SOURCES
    if tr.get('height_source', 'auto') not in HEIGHT_SOURCES:
        raise UserError(f'train.height_source must be one of {", ".join(HEIGHT_SOURCES)}, got '
                        f'{tr["height_source"]!r}')
    from rsdfm_core.training.loop import train
    from rsdfm_core.bag import BagError
    try:
        train(config, args.out, resume=args.resume, threads=args.threads, log_path=args.log,
              bags=bags, val_bags=val_bags, init=args.init, freeze=args.freeze)
    except BagError as exc:
        raise UserError(str(exc)) from None
    return 0
