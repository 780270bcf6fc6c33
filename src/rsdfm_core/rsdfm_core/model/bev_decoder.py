"""Small U-Net over the fused BEV map: fills holes left by the lifting and adds context."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from rsdfm_core.model.encoder import conv_bn


class BevDecoder(nn.Module):
    """(G, Cin, R, W) -> (G, Cout, R, W) with two downsampling levels.

    Its receptive field is about 40 cells.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.e1 = conv_bn(cin, 32)
        self.e2 = nn.Sequential(conv_bn(32, 64, 2), conv_bn(64, 64))
        self.e3 = nn.Sequential(conv_bn(64, 96, 2), conv_bn(96, 96))
        self.d2 = conv_bn(96 + 64, 64)
        self.d1 = conv_bn(64 + 32, cout, k=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.e1(x)
        x2 = self.e2(x1)
        x3 = self.e3(x2)
        y2 = self.d2(
            torch.cat(
                [F.interpolate(x3, size=x2.shape[-2:], mode='bilinear', align_corners=False), x2],
                1,
            )
        )
        return self.d1(
            torch.cat(
                [F.interpolate(y2, size=x1.shape[-2:], mode='bilinear', align_corners=False), x1],
                1,
            )
        )
