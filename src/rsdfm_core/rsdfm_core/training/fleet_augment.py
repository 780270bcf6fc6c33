"""Fleet errors in training: the defence against the errors rsdfm_core/fleet_errors.py measures.

A real fleet's poses come from GNSS and an IMU, and its maps arrive late. Training shows the
model such scenes: every drone but the first (the reference, as at evaluation) may get a
believed pose off by Gaussian noise of a level drawn from `pose_noise_levels` (metres on x, y, z;
degrees on yaw, pitch, roll, as `rsdfm evaluate --pose-noise`), and its view (image, pose and
height targets) may come from up to `delay_frames_max` frames before the scene's stamp. The
boxes stay those of the stamp, so the model learns to fuse displaced and late maps.
"""
from __future__ import annotations

import random

import numpy as np

from rsdfm_core.fleet_errors import noisy_pose, rotation_ypr

DEFAULTS = {
    'pose_noise_probability': 0.0,     # share of scenes whose non-reference drones err
    'pose_noise_levels': [[0.5, 0.5], [1.0, 1.0], [2.0, 2.0]],    # [metres, degrees] to draw
    'delay_probability': 0.0,          # share of scenes whose non-reference drones are late
    'delay_frames_max': 4,             # at most this many frames late (10 Hz: 400 ms)
}


def active(cfg: dict) -> bool:
    """Whether the training settings ask for any fleet error."""
    return cfg.get('pose_noise_probability', 0) > 0 or cfg.get('delay_probability', 0) > 0


def scene_views(seq, t: int, key: str, cfg: dict, rng: random.Random
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (images, poses, bins) of scene t with the drawn errors on drones 1..V-1."""
    images, poses, bins = seq.images[t].copy(), seq.poses[t].copy(), getattr(seq, key)[t].copy()
    cfg = {**DEFAULTS, **cfg}
    if rng.random() < cfg['delay_probability'] and t > 0:
        late = max(t - rng.randint(1, cfg['delay_frames_max']), 0)
        images[1:], poses[1:] = seq.images[late][1:], seq.poses[late][1:]
        bins[1:] = getattr(seq, key)[late][1:]
    if rng.random() < cfg['pose_noise_probability']:
        metres, degrees = rng.choice(cfg['pose_noise_levels'])
        noise = np.random.default_rng(rng.getrandbits(32))
        for v in range(1, len(poses)):
            error = np.eye(4)
            error[:3, :3] = rotation_ypr(*np.radians(noise.normal(0.0, degrees, 3)))
            error[:3, 3] = noise.normal(0.0, metres, 3)
            poses[v] = noisy_pose(poses[v], error)
    return images, poses, bins
