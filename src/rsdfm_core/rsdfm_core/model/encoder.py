"""Small CNN image encoder shared by all drones: stride-4 features plus depth/height bin logits."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    """Conv + BatchNorm + ReLU, the building block of the encoder and the BEV decoder."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ImageEncoder(nn.Module):
    """(B, 3, H, W) float image in [0, 1] -> features and bin logits.

    Features are (B, C, H/4, W/4), bin logits (B, D, H/4, W/4).

    A four-level pyramid (strides 2..16) merged back to stride 4, so each lifted pixel sees
    context of about 100 internal pixels.
    """

    def __init__(self, out_channels: int, bins: int):
        super().__init__()
        self.s2 = nn.Sequential(conv_bn(3, 24, 2), conv_bn(24, 24))
        self.s4 = nn.Sequential(conv_bn(24, 48, 2), conv_bn(48, 48))
        self.s8 = nn.Sequential(conv_bn(48, 64, 2), conv_bn(64, 64))
        self.s16 = nn.Sequential(conv_bn(64, 96, 2), conv_bn(96, 96))
        self.up8 = conv_bn(96 + 64, 64)
        self.up4 = conv_bn(64 + 48, 64)
        self.out = nn.Conv2d(64, out_channels + bins, 1)
        self.out_channels = out_channels
        self.register_buffer('mean', torch.tensor([0.45, 0.45, 0.45]).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (image - self.mean) / self.std
        x4 = self.s4(self.s2(x))
        x8 = self.s8(x4)
        x16 = self.s16(x8)
        y8 = self.up8(
            torch.cat(
                [F.interpolate(x16, size=x8.shape[-2:], mode='bilinear', align_corners=False), x8],
                1,
            )
        )
        y4 = self.up4(
            torch.cat(
                [F.interpolate(y8, size=x4.shape[-2:], mode='bilinear', align_corners=False), x4],
                1,
            )
        )
        out = self.out(y4)
        return out[:, :self.out_channels], out[:, self.out_channels:]
