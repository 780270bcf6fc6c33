"""Training and test scenes of the new tasks: what the fusion side receives, and the truth.

Each scene is a simulated frame passed through the shipped drone side and codec exactly as in
flight (payloads at the deployed budget, decoded and resampled into the fusion region), with
the ground truth of every task on the region. Scenes are sampled `every` frames apart (the
world advances in between without rendering) and cached by model, seeds and sampling, so
training several heads renders each scene once.
"""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import json
from pathlib import Path
import time
from typing import Callable

import numpy as np
import torch

from rsdfm_core.tasks.layers import task_mask, TASKS


@dataclass
class Scenes:
    """F scenes of N drones on the fusion region (R, W)."""

    maps: np.ndarray                    # (F, N, C, R, W) float16 drone maps, decoded payloads
    valid: np.ndarray                   # (F, N, R, W) bool: cells each drone saw
    targets: dict[str, np.ndarray]      # task -> (F, R, W) bool
    per_seed: int = 1                   # consecutive scenes of one seed, `every` frames apart

    def __len__(self) -> int:
        return len(self.maps)

    def with_history(self) -> np.ndarray:
        """Return the indices of the scenes that have one before them of their seed (i - 1)."""
        return np.array([i for i in range(len(self)) if i % self.per_seed], dtype=np.int64)

    def coverage(self) -> np.ndarray:
        """(F, R, W) bool: cells at least one drone saw (the rest is not scored)."""
        return self.valid.any(1)


@dataclass
class SceneImages:
    """The camera side of the same scenes, for training through the drone side too."""

    images: np.ndarray                  # (F, N, H, W, 3) uint8 at the model's internal size
    K: np.ndarray                       # (F, N, 3, 3) float32, scaled to that size
    poses: np.ndarray                   # (F, N, 4, 4) float32 camera poses in map


def _key(model_id: str, seeds: list[int], frames: int, every: int, drones: int) -> str:
    blob = json.dumps([model_id, list(seeds), frames, every, drones, sorted(TASKS)])
    return 'scenes_' + hashlib.sha1(blob.encode()).hexdigest()[:12]


def simulate_scenes(rt, seeds: list[int], frames: int, every: int = 5, drones: int = 4,
                    log=None) -> Scenes:
    """Render `frames` scenes of each seed through the model `rt` (a Runtime)."""
    from rsdfm_core.model.runtime import DroneEncoder, FusionDecoder

    enc, dec = DroneEncoder(rt), FusionDecoder(rt)
    maps, valid, targets = [], [], {t: [] for t in TASKS}
    for town, f in _frames(seeds, frames, every, drones, log):
        x, v = dec.region_inputs(dec.decoded(enc.encode_views(f.views)))
        maps.append(x.numpy().astype(np.float16))
        valid.append(v.numpy() > 0.5)
        for t in TASKS:
            targets[t].append(task_mask(t, town, f.objects, dec.region))
    return Scenes(np.stack(maps), np.stack(valid), {t: np.stack(m) for t, m in targets.items()},
                  frames)


def _frames(seeds: list[int], frames: int, every: int, drones: int, log=None):
    """Yield (town, frame) of every scene, `every` frames apart (one Simulator per seed)."""
    from rsdfm_core.world import Simulator, WorldConfig

    t0 = time.time()
    for i, seed in enumerate(seeds):
        sim = Simulator(WorldConfig(seed=int(seed), drones=drones, dense_gt=False))
        for k in range(frames):
            if k:
                sim.skip(every - 1)
            yield sim.town, sim.step()
        if log:
            log(f'scenes: seed {seed} done, {i + 1}/{len(seeds)} seeds '
                f'({time.time() - t0:.0f} s)')


def simulate_images(rt, seeds: list[int], frames: int, every: int = 5, drones: int = 4,
                    log=None) -> SceneImages:
    """Render the scenes of simulate_scenes() (same seeds and sampling) as model inputs."""
    from rsdfm_core.model.network import prepare_image

    images, Ks, poses = [], [], []
    for _, f in _frames(seeds, frames, every, drones, log):
        prepared = [prepare_image(v.image, v.K, rt.image_size) for v in f.views]
        images.append(np.stack([img for img, _ in prepared]))
        Ks.append(np.stack([K for _, K in prepared]).astype(np.float32))
        poses.append(np.stack([v.cam_to_map for v in f.views]).astype(np.float32))
    return SceneImages(np.stack(images), np.stack(Ks), np.stack(poses))


def _npz_cache(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Return the arrays in `path`, or build() them and write them there (atomically) first."""
    if path.is_file():
        with np.load(path) as d:
            return {k: d[k] for k in d.files}
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp.npz')
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return arrays


def cached_images(cache_dir: str | Path, rt, seeds: list[int], frames: int, every: int = 5,
                  drones: int = 4, log=None) -> SceneImages:
    """simulate_images() through a cache file in cache_dir."""
    path = Path(cache_dir) / (_key(rt.model_id, seeds, frames, every, drones) + '_images.npz')
    d = _npz_cache(path, lambda: vars(simulate_images(rt, seeds, frames, every, drones, log)))
    return SceneImages(d['images'], d['K'], d['poses'])


def cached_scenes(cache_dir: str | Path | None, rt, seeds: list[int], frames: int,
                  every: int = 5, drones: int = 4, log=None) -> Scenes:
    """simulate_scenes() through a cache file in cache_dir (None: no cache)."""
    if cache_dir is None:
        return simulate_scenes(rt, seeds, frames, every, drones, log)

    def build() -> dict[str, np.ndarray]:
        s = simulate_scenes(rt, seeds, frames, every, drones, log)
        return {'maps': s.maps, 'valid': s.valid,
                **{f'target_{t}': m for t, m in s.targets.items()}}
    path = Path(cache_dir) / (_key(rt.model_id, seeds, frames, every, drones) + '.npz')
    d = _npz_cache(path, build)
    return Scenes(d['maps'], d['valid'], {t: d[f'target_{t}'] for t in TASKS}, frames)


@torch.no_grad()
def fused_features(rt, scenes: Scenes, batch: int = 4) -> torch.Tensor:
    """(F, Cf, R, W) float32 fused features of the scenes through the frozen fusion side."""
    out = []
    for i in range(0, len(scenes), batch):
        x = torch.from_numpy(scenes.maps[i:i + batch].astype(np.float32))
        v = torch.from_numpy(scenes.valid[i:i + batch])
        out.append(rt.net.fuse(x, v))
    return torch.cat(out)
