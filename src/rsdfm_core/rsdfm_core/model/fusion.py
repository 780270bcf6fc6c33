"""Per-cell attention fusion over drones with validity masks."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class AttentionFusion(nn.Module):
    """Fuse N aligned maps (N, C, R, W) with validity (N, R, W) into one (C + 1, R, W) map.

    Each drone's cell gets a score from a small conv over [its own features, the mean of all
    valid drones]; scores of invalid cells are -inf; softmax over drones; cells no drone sees are
    zero. The extra channel is the number of drones that see the cell (log1p), so the decoder
    knows how much evidence it has.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.score = nn.Sequential(
            nn.Conv2d(2 * channels, 32, 1), nn.ReLU(inplace=True), nn.Conv2d(32, 1, 1)
        )

    def forward(self, maps: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Fuse maps (G, N, C, R, W), valid (G, N, R, W) into (G, C + 1, R, W).

        G counts independent scenes.
        """
        G, N, C, R, W = maps.shape
        vf = valid.to(maps.dtype)
        count = vf.sum(1)                                               # (G, R, W)
        mean = (maps * vf[:, :, None]).sum(1) / count.clamp(min=1)[:, None]
        # score's first 1x1 conv over [own, mean] is W_own * own + W_mean * mean + b: the mean's
        # part is computed once per scene, not once per drone (same result, half the work)
        first, relu, last = self.score
        hidden = (F.conv2d(maps.flatten(0, 1), first.weight[:, :C]).view(G, N, -1, R, W)
                  + F.conv2d(mean, first.weight[:, C:], first.bias)[:, None])
        s = last(relu(hidden.flatten(0, 1))).view(G, N, R, W)
        s = s.masked_fill(~valid, -1e4)
        w = torch.softmax(s, 1) * vf
        fused = (maps * w[:, :, None]).sum(1)
        return torch.cat([fused, torch.log1p(count)[:, None]], 1)
