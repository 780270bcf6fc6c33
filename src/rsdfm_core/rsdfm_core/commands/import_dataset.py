"""`rsdfm import nuscenes`: a nuScenes-format dataset (e.g. a multi-drone set) as rsdfm bags."""
from __future__ import annotations

import argparse

from rsdfm_core.cli import UserError

HELP = 'import a public dataset (nuScenes format) into rsdfm bags, one per scene'
FORMATS = ('nuscenes',)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('format', choices=FORMATS, help='dataset layout (nuscenes)')
    parser.add_argument('--dataroot', required=True,
                        help='dataset folder holding <version>/ (the json tables) and samples/')
    parser.add_argument('--version', required=True,
                        help='table version, e.g. v1.0-mini or v1.0-trainval')
    parser.add_argument('--out', required=True,
                        help='folder for the bags: one rosbag2 directory per scene, OUT/<scene>')
    parser.add_argument('--scenes', metavar='NAME,NAME,...',
                        help='scenes to import by name (default: all)')
    parser.add_argument('--channels', metavar='CHANNEL,...',
                        help='camera channels to import, each one drone namespace uav1, uav2, '
                             '... in this order (default: every camera, in name order)')
    parser.add_argument('--class-map', metavar='NAME=LABEL,...',
                        help='extra category rules on top of the defaults (vehicle.car -> car, '
                             'vehicle.truck -> truck, vehicle.bus -> bus, ...); LABEL is car, '
                             'truck, bus or ignore; NAME matches a category and its '
                             'sub-categories')
    parser.add_argument('--ground-z', type=float,
                        help='height of the ground in the dataset frame (default: the median '
                             "of the boxes' bottoms, per scene)")
    parser.add_argument('--resolution', type=float, default=1.0,
                        help='metres per cell of the region recorded in each bag (default 1.0, '
                             "the shipped model's)")
    parser.add_argument('--image-format', choices=('jpeg', 'png', 'raw'), default='jpeg',
                        help='how the bags carry the images (default jpeg, quality 95)')


def run(args: argparse.Namespace) -> int:
    import math
    if not math.isfinite(args.resolution) or args.resolution <= 0:
        raise UserError(f'--resolution must be a positive number of metres, got {args.resolution}')
    if args.ground_z is not None and not math.isfinite(args.ground_z):
        raise UserError(f'--ground-z must be a finite height, got {args.ground_z}')
    from rsdfm_core.graph import list_items
    from rsdfm_core.importers.nuscenes import DatasetError, import_nuscenes
    try:
        done = import_nuscenes(args.dataroot, args.version, args.out,
                               list_items(args.scenes or '') or None,
                               list_items(args.channels or '') or None, args.class_map,
                               args.ground_z,
                               args.resolution, args.image_format)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    print('\n'.join(info.bag for info in done))
    return 0
