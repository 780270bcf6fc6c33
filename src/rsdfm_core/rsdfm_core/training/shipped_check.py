"""Figures of a checkpoint on a small held-out simulated run, recorded beside the shipped weights.

    python -m rsdfm_core.training.shipped_check --record     # writes data/shipped_figures.json

The test suite re-measures them (test/core/test_model_shipped.py) and compares within a tolerance.
"""
from __future__ import annotations

import argparse
import json
import sys

from rsdfm_core.model.weights import DATA_DIR

FIGURES = DATA_DIR / 'shipped_figures.json'
SMALL_RUN = {'seed': 7777, 'frames': 12, 'drones': 4}


def measure(weights: str | None = None, threads: int = 1) -> dict:
    """Collaborative and single-drone AP / IoU of the checkpoint on the small held-out run."""
    from rsdfm_core.model.runtime import Runtime
    from rsdfm_core.training.evaluate import evaluate_frames
    from rsdfm_core.world import Simulator, WorldConfig
    rt = Runtime.load(weights, threads=threads)
    frames = list(
        Simulator(WorldConfig(seed=SMALL_RUN['seed'], drones=SMALL_RUN['drones'])).frames(
            SMALL_RUN['frames']
        )
    )
    collab = evaluate_frames(frames, rt, 'collaborative', progress=False)
    single = evaluate_frames(frames, rt, 'single', progress=False)
    return {
        'model_id': rt.model_id,
        'run': SMALL_RUN,
        'collaborative': {k: collab[k] for k in ('ap50', 'ap70', 'iou', 'pq')},
        'single': {k: single[k] for k in ('ap50', 'ap70', 'iou', 'pq')},
        'bytes_per_agent_frame': collab['bytes_per_agent_frame'],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--weights')
    ap.add_argument('--record', action='store_true', help=f'write {FIGURES}')
    args = ap.parse_args()
    res = measure(args.weights)
    print(json.dumps(res, indent=2))
    if args.record:
        FIGURES.write_text(json.dumps(res, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
