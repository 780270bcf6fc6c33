"""Task heads on the fused BEV map: CenterPoint-style detection, instance segmentation, trajectory.

Detection channels: 3 class heatmaps (logits), offset (dx, dy in cells), z, log(l, w, h),
sin/cos of 2 * yaw relative to the grid (a box is the same box turned by pi, so the heading is
regressed modulo pi and the direction is taken from the velocity), velocity (vx, vy in the grid
frame, m/s).
Segmentation channels: vehicle mask logit, centre heatmap logit, offset to centre (cells).
Trajectory: 2 * steps channels, future (dx, dy) in the grid frame, metres / 10.
"""
from __future__ import annotations

import torch
from torch import nn

DET_CHANNELS = {
    'heatmap': slice(0, 3),
    'offset': slice(3, 5),
    'z': slice(5, 6),
    'size': slice(6, 9),
    'yaw': slice(9, 11),
    'vel': slice(11, 13),
}
SEG_CHANNELS = {'mask': slice(0, 1), 'centre': slice(1, 2), 'offset': slice(2, 4)}
TRAJ_SCALE = 10.0


def _head(
    cin: int, mid: int, cout: int, bias: float | None = None, bias_channels: slice | None = None
) -> nn.Sequential:
    h = nn.Sequential(
        nn.Conv2d(cin, mid, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1)
    )
    if bias is not None:
        with torch.no_grad():
            h[-1].bias[bias_channels] = bias
    return h


class DetectionHead(nn.Module):

    def __init__(self, cin: int):
        super().__init__()
        self.net = _head(cin, 32, 13, bias=-2.19, bias_channels=DET_CHANNELS['heatmap'])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SegmentationHead(nn.Module):

    def __init__(self, cin: int):
        super().__init__()
        self.net = _head(cin, 16, 4, bias=-2.19, bias_channels=slice(0, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TrajectoryHead(nn.Module):
    """Stacked fused maps of the current and past instants -> future offsets.

    The input is (G, (1 + lags) * C, R, W).
    """

    def __init__(self, cin: int, steps: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(cin, 48, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(48, 48, 3, padding=2, dilation=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(48, 2 * steps, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
