"""A new task's head on the fused map, saved on its own.

A new task is a small file, not new drone software.

The file names the model whose fused features it reads (model_id); a head is only loaded
beside that model, since another model's features mean something else. A head trained with
history (train-head --history) reads the fused map of `history_s` before as well; the predictor
keeps the recent maps for it and has no layer until one that old has come.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rsdfm_core.tasks.layers import check_task

HEAD_FORMAT = 'rsdfm-task-head-v1'
SHIPPED_DIR = Path(__file__).resolve().parent.parent / 'data' / 'heads'
HISTORY_TOLERANCE_S = 0.1     # the earlier map may be this far from history_s (a 5 Hz fleet)


class TaskHead(nn.Module):
    """(G, Cf, R, W) fused features -> (G, R, W) logits of one binary BEV layer.

    Three 3x3 convolutions dilated 1, 2 and 4 (a 15-cell view: a road or a block is recognised
    by its shape, not a cell alone), then one logit per cell; about 28k weights. The vehicle
    heads' single 3x3 layer reached 0.753 road IoU frozen against 0.859 for this one.
    """

    def __init__(self, channels: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        cin = channels
        for dilation in (1, 2, 4):
            layers += [nn.Conv2d(cin, width, 3, padding=dilation, dilation=dilation),
                       nn.ReLU(inplace=True)]
            cin = width
        layers.append(nn.Conv2d(width, 1, 1))
        self.net = nn.Sequential(*layers)
        with torch.no_grad():
            self.net[-1].bias.fill_(-1.0)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.net(fused)[:, 0]


def shipped_head(task: str) -> Path:
    """Path of the head shipped for `task` (it may be missing if none was trained)."""
    return SHIPPED_DIR / f'{check_task(task)}.pt'


def save_head(path: str | Path, head: TaskHead, task: str, model_id: str,
              info: dict | None = None) -> None:
    """Write the head, its task, the model_id of the fused features it reads and `info`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    torch.save({'format': HEAD_FORMAT, 'task': task, 'model_id': model_id,
                'channels': int(head.net[0].in_channels),
                'state_dict': head.state_dict(), 'info': info or {}}, tmp)
    tmp.replace(path)


def load_head(path: str | Path) -> tuple[TaskHead, dict]:
    """Load a head file: (head in eval mode, its metadata). ValueError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f'no task head at {path}')
    try:
        blob = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:        # noqa: BLE001 - any unreadable file is the same user error
        raise ValueError(f'{path} is not a readable task head: {exc}') from None
    if not isinstance(blob, dict) or blob.get('format') != HEAD_FORMAT:
        raise ValueError(f'{path} is not an rsdfm task head (format {HEAD_FORMAT})')
    head = TaskHead(int(blob['channels']))
    head.load_state_dict(blob['state_dict'])
    meta = {k: blob[k] for k in ('task', 'model_id', 'channels', 'info')}
    meta['history_s'] = float(blob['info'].get('history_s', 0.0))
    return head.eval(), meta


class TaskPredictor:
    """Runs one task head on fused maps of the model `rt` (rsdfm_core.model.runtime.Runtime)."""

    def __init__(self, rt, path: str | Path | None = None, task: str | None = None,
                 threshold: float = 0.5):
        if path is None:
            if task is None:
                raise ValueError('give a head file or a task with a shipped head')
            path = shipped_head(task)
        self.head, self.meta = load_head(path)
        if task is not None and self.meta['task'] != task:
            raise ValueError(f'{path} is a head for task {self.meta["task"]!r}, not {task!r}')
        if self.meta['model_id'] != rt.model_id:
            raise ValueError(f'{path} reads the fused features of model {self.meta["model_id"]}, '
                             f'but the loaded model is {rt.model_id}')
        self.task, self.rt, self.threshold = self.meta['task'], rt, float(threshold)
        self.history_s = self.meta['history_s']
        self.channels = self.meta['channels'] // (2 if self.history_s else 1)
        self._recent: deque[tuple[int, np.ndarray]] = deque()    # (stamp_ns, features)
        self.head.to(rt.device)

    @torch.no_grad()
    def probability(self, features: np.ndarray, earlier: np.ndarray | None = None) -> np.ndarray:
        """(R, W) float32 probability of the layer from fused features (Cf, R, W).

        A head with history needs `earlier`, the fused map of history_s before.
        """
        Cf = self.channels
        maps = [features] + ([earlier] if self.history_s else [])
        if self.history_s and earlier is None:
            raise ValueError(f'a head with history needs the fused map of {self.history_s:g} s '
                             'before as well')
        for m in maps:
            if m.ndim != 3 or m.shape[0] != Cf or m.shape[1:] != features.shape[1:]:
                raise ValueError(f'fused map must be ({Cf}, rows, cols), got {m.shape}')
        x = torch.from_numpy(np.concatenate([np.asarray(m, dtype=np.float32) for m in maps]))
        return torch.sigmoid(self.head(x[None].to(self.rt.device)))[0].cpu().numpy()

    def mask(self, features: np.ndarray, earlier: np.ndarray | None = None) -> np.ndarray:
        """(R, W) bool: the layer where its probability passes the threshold."""
        return self.probability(features, earlier) >= self.threshold

    def layer_at(self, stamp_ns: int, features: np.ndarray) -> np.ndarray | None:
        """Return the layer of the fused map stamped `stamp_ns`, keeping it for later ones.

        A head with history gets the kept map nearest to history_s before (within
        HISTORY_TOLERANCE_S); until one that old has come, or after a gap, there is no layer:
        None. Maps older than any later map could need are dropped.
        """
        if features.ndim != 3 or features.shape[0] != self.channels:
            raise ValueError(f'fused map must be ({self.channels}, rows, cols), got '
                             f'{features.shape}')
        if not self.history_s:
            return self.mask(features)
        target = stamp_ns - int(self.history_s * 1e9)
        tolerance = int(HISTORY_TOLERANCE_S * 1e9)
        earlier = min(((abs(s - target), f) for s, f in self._recent
                       if abs(s - target) <= tolerance and f.shape == features.shape),
                      key=lambda p: p[0], default=(None, None))[1]
        self._recent.append((stamp_ns, features))
        newest = max(s for s, _ in self._recent)
        oldest_needed = newest - int(self.history_s * 1e9) - tolerance
        self._recent = deque(p for p in self._recent if p[0] >= oldest_needed)
        return None if earlier is None else self.mask(features, earlier)
