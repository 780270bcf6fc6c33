"""Checkpoints: save, load, the shipped default, and model_id (hash of the weights)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from rsdfm_core.model.config import DEFAULT_CONFIG, merge
from rsdfm_core.model.network import RsdfmNet

DATA_DIR = Path(__file__).resolve().parent.parent / 'data'
DEFAULT_WEIGHTS = DATA_DIR / 'rsdfm.pt'
ABSDEPTH_WEIGHTS = DATA_DIR / 'rsdfm_absdepth.pt'


def model_id(net: torch.nn.Module) -> str:
    """sha256 over the parameter and buffer tensors in key order (first 16 hex digits)."""
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_checkpoint(
    path: str | Path, net: RsdfmNet, config: dict, extra: dict | None = None
) -> None:
    """Write {config, state_dict (float32), extra} atomically (tmp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + '.tmp')
    torch.save({'config': config, 'state_dict': net.state_dict(), 'extra': extra or {}}, tmp)
    tmp.replace(path)


def build_model(config: dict | None = None, seed: int = 0) -> RsdfmNet:
    """Return a model with deterministic random init (same seed, same weights, same model_id)."""
    config = merge(DEFAULT_CONFIG, config or {})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = RsdfmNet(config['model'])
    return net


def load_checkpoint(path: str | Path | None) -> tuple[RsdfmNet, dict, dict]:
    """Return (net in eval mode, config, extra).

    path None -> the shipped default, or random init if none is shipped.
    """
    if path is None:
        if not DEFAULT_WEIGHTS.exists():
            net = build_model()
            return net.eval(), merge(DEFAULT_CONFIG, {}), {'random_init': True}
        path = DEFAULT_WEIGHTS
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'weights file not found: {path}')
    try:
        ck = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # corrupt or not a torch file
        raise ValueError(f'cannot read weights {path}: {exc}') from exc
    if not isinstance(ck, dict) or 'state_dict' not in ck or 'config' not in ck:
        raise ValueError(f'{path} is not an rsdfm checkpoint (needs config and state_dict)')
    depth_bins = ck['config'].get('model', {}).get('depth_bins')
    if isinstance(depth_bins, dict) and 'spacing' not in depth_bins:
        depth_bins['spacing'] = 'log'       # checkpoints from before the field had log bins
    config = merge(DEFAULT_CONFIG, ck['config'])
    net = RsdfmNet(config['model'])
    net.load_state_dict(ck['state_dict'])
    return net.eval(), config, ck.get('extra', {})
