"""Training data from labelled bags: any bag in rsdfm's layout (simulated, imported, recorded).

A bag gives what a real fleet has: images, intrinsics, poses and boxes; no dense depth or height
images. The lifting's height (and depth) targets therefore come from the boxes
(training/box_heights.py), even where a simulated bag carries dense images. Each bag becomes one
cached sequence in the layout of training/dataset.py, plus the bag's region (its metadata's, or
the model's), so a scene larger than 128 m is trained on whole.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
import sys
import time

import numpy as np

from rsdfm_core.training.dataset import write_sequence

BAG_CACHE_VERSION = 1


def find_bags(dirs: list[str | Path]) -> list[Path]:
    """Return the bag directories named: each one a bag, or a folder of bags (one level)."""
    bags = []
    for d in map(Path, dirs):
        if (d / 'metadata.yaml').is_file():
            bags.append(d)
            continue
        inner = sorted(p for p in d.iterdir() if (p / 'metadata.yaml').is_file()) \
            if d.is_dir() else []
        if not inner:
            raise ValueError(f'{d} is neither a rosbag2 directory (metadata.yaml) nor a folder '
                             'of them')
        bags += inner
    return bags


def bag_key(bag: Path, model_cfg: dict) -> str:
    """Cache key: the bag's files (name, size, time) and the model settings the arrays use."""
    files = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in bag.iterdir()
                   if p.is_file())
    blob = json.dumps([BAG_CACHE_VERSION, str(bag.resolve()), files, model_cfg['image_size'],
                       model_cfg['feat_stride'], model_cfg['height_bins'],
                       model_cfg['depth_bins']], sort_keys=True)
    return f'bag_{bag.name}_' + hashlib.sha1(blob.encode()).hexdigest()[:10]


def build_bag_sequence(bag: Path, model_cfg: dict, path: Path,
                       warn=lambda text: print(text, file=sys.stderr, flush=True)) -> None:
    """Read the bag's frames and write them as one cached sequence at `path`.

    Frames must show the same drones as the bag's first frame (the model stacks them); others
    are left out and counted. The bag's region (metadata) goes with them.
    """
    from rsdfm_core.bag import read_frames
    from rsdfm_core.bag.source import custom_data
    from rsdfm_core.regions import REGION_KEY
    agents, dropped = None, 0

    def same_drones():
        nonlocal agents, dropped
        for f in read_frames(bag, require_ground_truth=True):
            names = [v.agent_id for v in f.views]
            agents = agents or names
            if names == agents:
                yield f
            else:
                dropped += 1

    region = custom_data(bag).get(REGION_KEY, '')
    if not write_sequence(same_drones(), model_cfg, 'boxes', path, region=np.array(region)):
        raise ValueError(f'{bag}: no frame to train on')
    if dropped:
        warn(f'train: {bag}: {dropped} frames left out: they lack some of the drones '
             f'{", ".join(agents)} of its first frame')


def bag_cache(cache_dir: str | Path, bags: list[Path], model_cfg: dict) -> list[Path]:
    """Make sure every bag is cached as a sequence (progress on stderr); return the files."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths, t0 = [], time.time()
    for i, bag in enumerate(bags):
        p = cache_dir / (bag_key(bag, model_cfg) + '.npz')
        if not p.exists():
            build_bag_sequence(bag, model_cfg, p)
        paths.append(p)
        print(f'cache: {i + 1}/{len(bags)} bags ready ({time.time() - t0:.0f} s)',
              file=sys.stderr, flush=True)
    return paths
