"""Losses of the RS-DFM heads.

CenterPoint focal heatmap loss, masked L1 regressions, bin cross-entropy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_heatmap_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0
) -> torch.Tensor:
    """Return the CenterNet/CenterPoint penalty-reduced focal loss.

    The target is 1 at centres, Gaussian around them.
    """
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1 - pos
    pos_loss = torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = torch.log(1 - p) * p ** alpha * (1 - target) ** beta * neg
    n = pos.sum().clamp(min=1)
    return -(pos_loss.sum() + neg_loss.sum()) / n


def gather_at(feature: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gather feature (G, K, R, W) at index (G, M) flat cells -> (G, M, K)."""
    G, K = feature.shape[:2]
    return feature.flatten(2).gather(2, index[:, None, :].expand(-1, K, -1)).transpose(1, 2)


def masked_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (torch.abs(pred - target) * mask).sum() / mask.sum().clamp(min=1)


def bin_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return the cross-entropy of logits (V, D, Hf, Wf), target (V, Hf, Wf) long, -1 = ignore."""
    if (target >= 0).sum() == 0:
        return logits.sum() * 0
    return F.cross_entropy(logits, target, ignore_index=-1)
