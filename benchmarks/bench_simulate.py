"""Speed of the synthetic world: frames/s of N drones at WxH (target: 4 x 640x480 >= 2 fps).

Reports rendering alone and rendering plus MCAP bag writing. Run:
.venv/bin/python benchmarks/bench_simulate.py
"""
from __future__ import annotations

import argparse
from pathlib import Path
import sys
import tempfile
import time

from rsdfm_core.bag import write_bag
from rsdfm_core.world import Simulator, WorldConfig


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--drones', type=int, default=4)
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--frames', type=int, default=20)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-dense-gt', action='store_true')
    a = p.parse_args()
    cfg = WorldConfig(
        seed=a.seed, drones=a.drones, width=a.width, height=a.height, dense_gt=not a.no_dense_gt
    )
    t0 = time.perf_counter()
    sim = Simulator(cfg)
    setup = time.perf_counter() - t0
    sim.step()                                           # warm-up
    t0 = time.perf_counter()
    for k in range(a.frames):
        sim.step()
        print(f'\rrender {k + 1}/{a.frames}', end='', file=sys.stderr, flush=True)
    render = time.perf_counter() - t0
    print(file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_bag(Path(tmp) / 'bag', sim.frames(a.frames), progress=True, total=a.frames)
        both = time.perf_counter() - t0
    print(
        f'simulate {a.drones} drones {a.width}x{a.height} dense_gt={cfg.dense_gt}: '
        f'setup {setup:.2f} s; '
        f'render {a.frames / render:.2f} frames/s; '
        f'render + MCAP bag {a.frames / both:.2f} frames/s'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
