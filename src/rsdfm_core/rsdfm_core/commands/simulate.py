"""`rsdfm simulate`: render a synthetic multi-drone run to a rosbag2 (MCAP) bag and preview.png."""
from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time

from ..bag.writer import CameraStream, IMAGE_FORMATS
from ..camera import EXAMPLE_DISTORTION
from ..cli import UserError

HELP = (
    'simulate a drone fleet over a procedural town and write a rosbag2 (MCAP) bag and preview.png'
)


def parse_range(text: str, name: str) -> tuple[float, float]:
    """'MIN:MAX' -> (min, max); UserError naming the option when malformed or inverted."""
    parts = text.split(':')
    try:
        if len(parts) != 2:
            raise ValueError
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise UserError(f'--{name} must look like MIN:MAX (two numbers), got {text!r}') from None
    if lo > hi:
        raise UserError(f'--{name} range is inverted: {lo:g} > {hi:g}')
    return lo, hi


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--out', required=True, help='output bag directory (must not exist or be empty)'
    )
    parser.add_argument('--drones', type=int, default=4, help='number of drones, 1..8 (default 4)')
    parser.add_argument('--frames', type=int, default=50, help='number of frames (default 50)')
    parser.add_argument(
        '--seed', type=int, default=0, help='random seed; same seed, same bag (default 0)'
    )
    parser.add_argument(
        '--altitude', default='40:120', help='drone altitude range MIN:MAX metres (default 40:120)'
    )
    parser.add_argument(
        '--pitch',
        default='30:70',
        help='camera pitch range below the horizon, degrees (default 30:70)',
    )
    parser.add_argument(
        '--width', type=int, default=640, help='image width in pixels (default 640)'
    )
    parser.add_argument(
        '--height', type=int, default=480, help='image height in pixels (default 480)'
    )
    parser.add_argument(
        '--hfov', type=float, default=60.0, help='horizontal field of view, degrees (default 60)'
    )
    parser.add_argument('--rate', type=float, default=10.0, help='frame rate in Hz (default 10)')
    parser.add_argument('--no-dense-gt', action='store_true',
                        help='leave out the depth/height/instance ground-truth images')
    parser.add_argument('--image-format', default='raw', choices=IMAGE_FORMATS,
                        help='camera images as raw rgb8 on camera/image_raw, or JPEG / PNG on '
                             'camera/image_raw/compressed (default raw)')
    parser.add_argument(
        '--distortion',
        default='none',
        choices=('none', *EXAMPLE_DISTORTION),
        help='lens distortion of the cameras, written to CameraInfo (default none)',
    )


def run(args: argparse.Namespace) -> int:
    from ..world import Simulator, WorldConfig  # heavy imports only when the command runs

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f'--out {out} already exists and is not an empty directory')
    if args.frames < 1:
        raise UserError(f'--frames must be at least 1, got {args.frames}')
    cfg = WorldConfig(
        seed=args.seed,
        drones=args.drones,
        width=args.width,
        height=args.height,
        altitude=parse_range(args.altitude, 'altitude'),
        pitch=parse_range(args.pitch, 'pitch'),
        rate_hz=args.rate,
        hfov_deg=args.hfov,
        dense_gt=not args.no_dense_gt,
    )
    try:
        sim = Simulator(cfg)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from ..bag import write_bag
    from ..preview import save_preview
    from ..world.simulator import WORLD_KEY, world_record

    if out.exists():
        out.rmdir()             # rosbag2 writer creates the directory itself
    first = []

    def frames():
        for frame in sim.frames(args.frames):
            if not first:
                first.append(frame)
            yield frame

    start = time.monotonic()
    stream = CameraStream(args.image_format, '' if args.distortion == 'none' else args.distortion)
    write_bag(out, frames(), progress=True, total=args.frames, stream=stream,
              custom_data={WORLD_KEY: world_record(cfg)})
    took = time.monotonic() - start
    preview = save_preview(
        out / 'preview.png', first[0], sim.town, cfg.region_size, background=sim.ground.lit
    )
    print(f'wrote {args.frames} frames of {cfg.drones} drones to {out} in {took:.1f} s '
          f'({args.frames / took:.2f} frames/s); preview: {preview}', file=sys.stderr)
    return 0
