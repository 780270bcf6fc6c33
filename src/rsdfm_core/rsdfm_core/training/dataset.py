"""Training data: simulator frames rendered once, resized to the model's internal size and cached.

One .npz per (seed, world settings) holds every frame of a sequence: internal-size images, scaled
K, poses, per-feature-pixel height and depth bin targets, and the ground-truth objects of every
frame with the ids that some drone sees. BEV targets (incl. future positions from later frames by
track id) are computed when a sample is drawn.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
import hashlib
import json
from pathlib import Path
import sys
import time

import numpy as np

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.lift import depth_bin_centres
from rsdfm_core.model.network import prepare_image
from rsdfm_core.regions import region_from_record
from rsdfm_core.training.box_heights import box_height_depth
from rsdfm_core.training.targets import bev_targets, bin_targets, in_region, visible_ids
from rsdfm_core.types import Frame, LABELS, objects_to_array, ObjectState


HEIGHT_SOURCES = ('auto', 'boxes')


def frame_arrays(frame: Frame, model_cfg: dict,
                 height_source: str = 'auto') -> dict[str, np.ndarray]:
    """Return the arrays of a frame the model trains on.

    Internal-size images (V, H, W, 3), scaled K (V, 3, 3), poses (V, 4, 4), bin targets
    (V, Hf, Wf). height_source 'auto' bins a view's dense height and depth images where it has
    them (the simulator's) and its boxes otherwise (a bag's); 'boxes' always uses the boxes.
    """
    size = tuple(model_cfg['image_size'])
    heights = np.array(model_cfg['height_bins'])
    db = model_cfg['depth_bins']
    depths = depth_bin_centres(db['min'], db['max'], db['count'], db['spacing']).numpy()
    log_depth = db['spacing'] == 'log'
    imgs, Ks, hb, dbn = [], [], [], []
    for v in frame.views:
        img, K = prepare_image(v.image, v.K, size)
        imgs.append(img)
        Ks.append(K)
        stride = int(round(model_cfg['feat_stride'] * v.image.shape[1] / size[0]))
        hf, wf = size[1] // model_cfg['feat_stride'], size[0] // model_cfg['feat_stride']
        if v.height is not None and height_source == 'auto':
            hb.append(bin_targets(v.height, heights, stride, limit=heights[-1] * 1.3)[:hf, :wf])
            dbn.append(
                bin_targets(v.depth, depths, stride, log=log_depth,
                            limit=db['max'] * 1.2)[:hf, :wf]
            )
        else:
            height, depth = box_height_depth(K, v.cam_to_map, frame.objects, (size[1], size[0]),
                                             model_cfg['feat_stride'])
            hb.append(bin_targets(height, heights, 1, limit=heights[-1] * 1.3)[:hf, :wf])
            dbn.append(bin_targets(depth, depths, 1, log=log_depth,
                                   limit=db['max'] * 1.2)[:hf, :wf])
    return {'images': np.stack(imgs), 'K': np.stack(Ks).astype(np.float32),
            'poses': np.stack([v.cam_to_map for v in frame.views]).astype(np.float32),
            'hbin': np.stack(hb), 'dbin': np.stack(dbn)}


@dataclass
class SequenceSpec:
    """One simulated sequence of the cache."""

    seed: int
    frames: int
    drones: int = 4
    altitude: tuple[float, float] = (40.0, 120.0)
    pitch: tuple[float, float] = (30.0, 70.0)
    height_source: str = 'auto'     # see frame_arrays

    def key(self, model_cfg: dict) -> str:
        fields = asdict(self)
        if fields['height_source'] == 'auto':       # keys of caches made before the field
            del fields['height_source']
        blob = json.dumps([fields, model_cfg['image_size'], model_cfg['feat_stride'],
                           model_cfg['height_bins'], model_cfg['depth_bins']], sort_keys=True)
        return f'seq_s{self.seed}_n{self.frames}_' + hashlib.sha1(blob.encode()).hexdigest()[:10]


def write_sequence(frames: Iterable[Frame], model_cfg: dict, height_source: str, path: Path,
                   **extra: np.ndarray) -> int:
    """Write the frames as one cache file `path` (extra arrays beside them); return the count."""
    per_frame = {k: [] for k in ('images', 'K', 'poses', 'hbin', 'dbin')}
    objs, offsets, vis, stamps = [], [0], [], []
    for f in frames:
        for k, v in frame_arrays(f, model_cfg, height_source).items():
            per_frame[k].append(v)
        objs.append(objects_to_array(f.objects))
        offsets.append(offsets[-1] + len(f.objects))
        ids = visible_ids(f.views, f.objects)
        vis.append(np.array([o.track_id in ids for o in f.objects], bool))
        stamps.append(f.stamp_ns)
    if not stamps:
        return 0
    tmp = path.with_name(path.name + '.tmp.npz')
    np.savez(tmp, **{k: np.stack(v) for k, v in per_frame.items()}, objects=np.concatenate(objs),
             offsets=np.array(offsets), visible=np.concatenate(vis), stamps=np.array(stamps),
             **extra)
    tmp.replace(path)
    return len(stamps)


def build_sequence(spec: SequenceSpec, model_cfg: dict, path: Path) -> None:
    """Simulate spec.frames frames at 640x480 and write the cache file `path`."""
    from rsdfm_core.world import Simulator, WorldConfig
    sim = Simulator(WorldConfig(seed=spec.seed, drones=spec.drones, altitude=tuple(spec.altitude),
                                pitch=tuple(spec.pitch)))
    write_sequence(sim.frames(spec.frames), model_cfg, spec.height_source, path)


def array_to_objects(rows: np.ndarray) -> list[ObjectState]:
    return [ObjectState(int(r[0]), LABELS[int(r[1])], *map(float, r[2:11])) for r in rows]


class Sequence:
    """A cached sequence in memory.

    `sample(t, grid)` gives the model inputs and BEV targets of frame t.
    """

    def __init__(self, path: Path):
        d = np.load(path)
        self.images, self.K, self.poses = d['images'], d['K'], d['poses']
        self.hbin, self.dbin = d['hbin'], d['dbin']
        self.objects, self.offsets, self.visible, self.stamps = (
            d['objects'],
            d['offsets'],
            d['visible'],
            d['stamps'],
        )
        self.length = len(self.stamps)
        # A bag's own region (training/bag_data.py); None: the model's.
        record = str(d['region']) if 'region' in d.files else ''
        self.grid = region_from_record(record) if record else None

    def frame_objects(self, t: int, visible_only: bool = True) -> np.ndarray:
        rows = self.objects[self.offsets[t]:self.offsets[t + 1]]
        return rows[self.visible[self.offsets[t]:self.offsets[t + 1]]] if visible_only else rows

    @property
    def rate_hz(self) -> float:
        """Frames per second (median spacing of the stamps; 10 for a single frame)."""
        return 1e9 / max(np.median(np.diff(self.stamps)), 1) if self.length > 1 else 10.0

    def lag_frames(self, lags_s: list[float]) -> list[int]:
        """Return the whole numbers of frames nearest to the given time lags."""
        return [int(round(lag * self.rate_hz)) for lag in lags_s]

    def futures(self, t: int, ids: np.ndarray, steps: int, dt: float) -> np.ndarray:
        """(N, steps, 2) future map positions of track ids at t + k*dt (nan where unknown)."""
        rate = self.rate_hz
        out = np.full((len(ids), steps, 2), np.nan)
        for k in range(steps):
            tf = t + int(round((k + 1) * dt * rate))
            if tf >= self.length:
                break
            rows = self.frame_objects(tf, visible_only=False)
            pos = {int(r[0]): r[2:4] for r in rows}
            for i, tid in enumerate(ids):
                if int(tid) in pos:
                    out[i, k] = pos[int(tid)]
        return out

    def targets(
        self, t: int, grid: BevGrid, steps: int = 6, dt: float = 0.5
    ) -> dict[str, np.ndarray]:
        objs = in_region(array_to_objects(self.frame_objects(t)), grid)
        fut = self.futures(t, np.array([o.track_id for o in objs]), steps, dt)
        return bev_targets(objs, grid, fut, steps)


def build_cache(cache_dir: str | Path, specs: list[SequenceSpec], model_cfg: dict) -> list[Path]:
    """Make sure every sequence is cached (rendering the missing ones, progress on stderr)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    t0 = time.time()
    for i, spec in enumerate(specs):
        p = cache_dir / (spec.key(model_cfg) + '.npz')
        if not p.exists():
            build_sequence(spec, model_cfg, p)
        paths.append(p)
        print(
            f'cache: {i + 1}/{len(specs)} sequences ready ({time.time() - t0:.0f} s)',
            file=sys.stderr,
            flush=True,
        )
    return paths
