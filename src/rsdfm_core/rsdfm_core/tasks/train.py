"""Train and score a new task's head on the fused maps.

`frozen` (what ships): the drone side, codec and fusion side are the shipped model's, only the
small head learns, so the drones' weights, model_id and transmitted bytes are unchanged.
`fusion` (a comparison): the fusion side (attention fusion and BEV decoder) learns with the
head, on the same decoded maps, iterations and batches. `all` (the joint comparison): the whole
model learns with the head from the camera images, through the drone side and the codec at the
deployed budget, on the same scenes: how much a task gains when the transmitted features may
change for it (the drones would then need the new weights). Scores are IoU over the cells some
drone saw. With `history` the head also gets the fused map of the scene before (`every` frames
earlier, from the same side), as the trajectory head gets past frames: one map cannot show
motion.
"""
from __future__ import annotations

import copy
import random
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from rsdfm_core.metrics.segmentation import LayerIoU
from rsdfm_core.model.config import region_grid
from rsdfm_core.tasks.head import TaskHead
from rsdfm_core.tasks.layers import check_task
from rsdfm_core.tasks.scenes import fused_features, SceneImages, Scenes

UNFREEZE = ('none', 'fusion', 'all')


class FusionSide(torch.nn.Module):
    """A trainable copy of the model's fusion side: maps (G, N, C, R, W) -> (G, Cf, R, W)."""

    def __init__(self, net) -> None:
        super().__init__()
        self.fusion = copy.deepcopy(net.fusion)
        self.decoder = copy.deepcopy(net.decoder)

    def forward(self, maps: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.fusion(maps, valid))


class WholeModel(torch.nn.Module):
    """A trainable copy of the whole model up to the fused map.

    Images (G, N, H, W, 3) uint8, K (G, N, 3, 3), poses (G, N, 4, 4) -> drone side on the
    region grid -> codec at the deployed budget -> fusion side -> (G, Cf, R, W).
    """

    def __init__(self, net, budget: dict) -> None:
        super().__init__()
        self.net = copy.deepcopy(net)
        self.topk, self.bits = int(budget['topk']), int(budget['bits'])
        self.grid = region_grid(net.cfg)

    def forward(self, images: torch.Tensor, K: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        G, N = images.shape[:2]
        x, valid, _ = self.net.drone_bev(images.flatten(0, 1).permute(0, 3, 1, 2).float() / 255.0,
                                         K.flatten(0, 1), poses.flatten(0, 1), self.grid)
        x, _ = self.net.codec(x, valid, self.topk, self.bits)
        C, R, W = x.shape[1:]
        return self.net.fuse(x.view(G, N, C, R, W), valid.view(G, N, R, W))


def _side(rt, unfreeze: str) -> torch.nn.Module | None:
    """Return the trainable part besides the head (None when frozen), in eval mode."""
    from rsdfm_core.model.codec import check_budget

    if unfreeze == 'none':
        return None
    side = (FusionSide(rt.net) if unfreeze == 'fusion'
            else WholeModel(rt.net, check_budget(None, rt.config['model']['codec'])))
    return side.eval()


def _fused(side, scenes: Scenes, images: SceneImages | None, pick) -> torch.Tensor:
    """Return the fused maps of the scenes `pick` through a trainable side."""
    if isinstance(side, WholeModel):
        return side(torch.from_numpy(images.images[pick]), torch.from_numpy(images.K[pick]),
                    torch.from_numpy(images.poses[pick]))
    return side(torch.from_numpy(scenes.maps[pick].astype(np.float32)),
                torch.from_numpy(scenes.valid[pick]))


def _pos_weight(targets: np.ndarray, seen: np.ndarray) -> float:
    pos = float((targets & seen).sum())
    neg = float((~targets & seen).sum())
    return float(np.clip(neg / max(pos, 1.0), 1.0, 20.0))


def _scored(scenes: Scenes, history: bool) -> np.ndarray:
    """Return the scenes a head is trained or scored on: with history, those that have one."""
    if not history:
        return np.arange(len(scenes))
    with_history = scenes.with_history()
    if not len(with_history):
        raise ValueError('a head with history needs at least 2 scenes per seed')
    return with_history


def _with_history(fused_of: Callable[[list[int]], torch.Tensor], pick: list[int],
                  history: bool) -> torch.Tensor:
    """Return the fused maps of `pick`, with history the scene before's stacked behind them."""
    fused = fused_of(pick)
    if history:
        fused = torch.cat([fused, fused_of([i - 1 for i in pick])], 1)
    return fused


def train_head(rt, scenes: Scenes, task: str, iterations: int = 600, lr: float = 2e-3,
               batch: int = 4, unfreeze: str = 'none', seed: int = 0,
               log: Callable[[str], None] | None = None, images: SceneImages | None = None,
               history: bool = False
               ) -> tuple[TaskHead, torch.nn.Module | None, list[float]]:
    """Train a head for `task`, and with unfreeze 'fusion' or 'all' a copy of that part.

    Returns the head, the trained part (None when frozen) and the loss per iteration; 'all'
    needs the scenes' images. With history the head reads the fused map of the scene before
    as well (2 Cf channels) and learns on the scenes that have one.
    """
    check_task(task)
    if unfreeze not in UNFREEZE:
        raise ValueError(f'unfreeze must be one of {UNFREEZE}, got {unfreeze!r}')
    if unfreeze == 'all' and images is None:
        raise ValueError("unfreeze 'all' trains from the images: give the scenes' images")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    Cf = rt.config['model']['fused_channels']
    head = TaskHead(Cf * (2 if history else 1))
    side = _side(rt, unfreeze)
    usable = _scored(scenes, history)
    seen = scenes.coverage()
    target = torch.from_numpy(scenes.targets[task]).float()
    mask = torch.from_numpy(seen).float()
    pos_weight = torch.tensor(_pos_weight(scenes.targets[task], seen))
    feats = fused_features(rt, scenes) if side is None else None
    params = list(head.parameters())
    if side is not None:         # batch norms keep the shipped statistics; their weights learn
        params += list(side.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    losses, t0 = [], time.time()
    for it in range(iterations):
        pick = [int(usable[rng.randrange(len(usable))]) for _ in range(batch)]
        fused = _with_history(
            (lambda p: feats[p]) if side is None else (lambda p: _fused(side, scenes, images, p)),
            pick, history)
        logits = head(fused)
        loss = (F.binary_cross_entropy_with_logits(logits, target[pick], reduction='none',
                                                   pos_weight=pos_weight) * mask[pick]).sum()
        loss = loss / mask[pick].sum().clamp(min=1.0)
        for g in opt.param_groups:
            g['lr'] = lr * 0.5 * (1 + np.cos(np.pi * it / iterations))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log and ((it + 1) % 100 == 0 or it + 1 == iterations):
            rate = (time.time() - t0) / (it + 1)
            log(f'train-head[{task}, {unfreeze}] it {it + 1}/{iterations} loss '
                f'{np.mean(losses[-100:]):.4f} {rate:.2f} s/it ETA '
                f'{rate * (iterations - it - 1) / 60:.1f} min')
    return head.eval(), side, losses


@torch.no_grad()
def score_head(rt, scenes: Scenes, task: str, head: TaskHead,
               side: torch.nn.Module | None = None, threshold: float = 0.5,
               images: SceneImages | None = None, history: bool = False,
               only_with_history: bool = False) -> dict:
    """Return the IoU of the head's layer against the truth over the cells some drone saw.

    A head with history is scored on the scenes that have one; only_with_history scores a
    single-map head on the same scenes, for comparison.
    """
    check_task(task)
    metric = LayerIoU()
    seen = scenes.coverage()

    def fused_of(pick: list[int]) -> torch.Tensor:
        if side is None:
            return fused_features(rt, Scenes(scenes.maps[pick], scenes.valid[pick], {}))
        return _fused(side, scenes, images, pick)
    scored = _scored(scenes, history or only_with_history)
    for i in range(0, len(scored), 4):
        pick = [int(k) for k in scored[i:i + 4]]
        layers = (torch.sigmoid(head(_with_history(fused_of, pick, history))) >= threshold)
        for k, layer in zip(pick, layers.numpy()):
            metric.add(layer, scenes.targets[task][k], seen[k])
    seen = seen[scored]
    share = float(scenes.targets[task][scored][seen].mean()) if seen.any() else 0.0
    return {'iou': metric.iou, 'scenes': len(scored),
            'cells_scored': int(seen.sum()), 'positive_share': round(share, 4)}
