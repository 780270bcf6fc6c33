"""Model configuration: one nested dict, defaults here, overrides from YAML (config/model.yaml).

The checkpoint stores the config it was trained with, so a loaded model never depends on the
YAML file lying next to it.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from rsdfm_core.geometry import BevGrid

# what may run the network's parts in a node (rsdfm_core.model.engine), importable without torch
ENGINES = ('torch', 'onnxruntime')

DEFAULT_CONFIG: dict[str, Any] = {
    'model': {
        'image_size': [320, 240],  # internal (width, height); inputs are resized to this
        # above this height the drone side enlarges its input (see runtime)
        'train_altitude_max': 120.0,
        'feat_stride': 4,  # image feature stride of the lifted features
        'img_channels': 32,  # channels of the lifted image features (= BEV channels)
        # 'relative' (ground prior, height bins) or 'absolute' (LSS depth bins)
        'lift': 'relative',
        'height_bins': [
            0.0,
            0.7,
            1.4,
            2.3,
            3.3,
            6.0,
            12.0,
            20.0,
        ],  # metres above ground (relative lift)
        # z-depth bins of the absolute lift: 1 m apart over 20-200 m, where the cameras see the
        # ground of the region at the training altitudes (1st-99th percentile 33-170 m)
        'depth_bins': {'min': 20.0, 'max': 200.0, 'count': 181, 'spacing': 'linear'},
        'region': {'cx': 0.0, 'cy': 0.0, 'size_x': 128.0, 'size_y': 128.0, 'resolution': 1.0},
        'codec': {'pool': 4, 'lf_channels': 16, 'hf_channels': 16, 'topk': 1024, 'bits': 8},
        'fused_channels': 32,
        'history_lags_s': [0.2, 0.4],  # past fused maps fed to the trajectory head
        'future_steps': 6,
        'future_dt': 0.5,
    },
}


def merge(base: dict, override: dict) -> dict:
    """Recursive dict merge; override wins; base is not modified."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        out[k] = (
            merge(out[k], v)
            if isinstance(v, dict) and isinstance(out.get(k), dict)
            else copy.deepcopy(v)
        )
    return out


def load_config(path: str | Path | None) -> dict:
    """Defaults merged with the YAML file at `path` (None -> defaults)."""
    if path is None:
        return copy.deepcopy(DEFAULT_CONFIG)
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f'{path}: expected a YAML mapping at the top level')
    return merge(DEFAULT_CONFIG, data)


def region_grid(model_cfg: dict) -> BevGrid:
    """Return the fusion region of the config as a BevGrid."""
    r = model_cfg['region']
    return BevGrid.centred(r['cx'], r['cy'], r['size_x'], r['size_y'], r['resolution'])
