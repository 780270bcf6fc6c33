"""The whole RS-DFM network, with the drone-side and fusion-side halves as separate methods.

Shapes: V camera views, G scenes (frames), N drones per scene, C channels, (R, W) grid cells.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.bev_decoder import BevDecoder
from rsdfm_core.model.codec import HlfCodec
from rsdfm_core.model.encoder import ImageEncoder
from rsdfm_core.model.fusion import AttentionFusion
from rsdfm_core.model.heads import DetectionHead, SegmentationHead, TrajectoryHead
from rsdfm_core.model.lift import (
    absolute_depth_points,
    camera_validity,
    depth_bin_centres,
    ground_prior_points,
    splat,
)


def prepare_image(
    image: np.ndarray, K: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resize an (H, W, 3) uint8 image to the internal (width, height) and scale K to match."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be (H, W, 3) uint8, got {image.shape} {image.dtype}')
    h, w = image.shape[:2]
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f'K must be 3x3, got {K.shape}')
    if (w, h) != tuple(size):
        image = cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA)
        K = np.diag([size[0] / w, size[1] / h, 1.0]) @ K
    return image, K


class RsdfmNet(nn.Module):

    def __init__(self, model_cfg: dict):
        super().__init__()
        self.cfg = model_cfg
        C = model_cfg['img_channels']
        self.lift_mode = model_cfg['lift']
        if self.lift_mode == 'relative':
            bins = torch.tensor(model_cfg['height_bins'], dtype=torch.float32)
        elif self.lift_mode == 'absolute':
            db = model_cfg['depth_bins']
            bins = depth_bin_centres(db['min'], db['max'], db['count'], db['spacing'])
        else:
            raise ValueError(
                f"model.lift must be 'relative' or 'absolute', got {self.lift_mode!r}"
            )
        self.register_buffer('bins', bins)
        cc = model_cfg['codec']
        self.encoder = ImageEncoder(C, len(bins))
        self.codec = HlfCodec(C, cc['lf_channels'], cc['hf_channels'], cc['pool'])
        self.fusion = AttentionFusion(C)
        Cf = model_cfg['fused_channels']
        self.decoder = BevDecoder(C + 1, Cf)
        self.det_head = DetectionHead(Cf)
        self.seg_head = SegmentationHead(Cf)
        self.traj_head = TrajectoryHead(
            Cf * (1 + len(model_cfg['history_lags_s'])), model_cfg['future_steps']
        )
        # Submodules that stay in eval mode when the net trains (a frozen side keeps its
        # BatchNorm statistics too, not only its weights).
        self.frozen: tuple[str, ...] = ()

    def train(self, mode: bool = True) -> 'RsdfmNet':
        """Set the training mode, except for the frozen submodules, which stay in eval."""
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    # --- drone side -----------------------------------------------------------------------------
    def lift_points(self, K: torch.Tensor, cam_to_map: torch.Tensor, feat_hw: tuple[int, int]):
        stride = self.cfg['feat_stride']
        if self.lift_mode == 'relative':
            return ground_prior_points(K, cam_to_map, feat_hw, stride, self.bins)
        return absolute_depth_points(K, cam_to_map, feat_hw, stride, self.bins)

    def drone_bev(self, images: torch.Tensor, K: torch.Tensor, cam_to_map: torch.Tensor,
                  grid: BevGrid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Lift images to BEV maps, validity and bin logits.

        images (V, 3, H, W) in [0, 1], K (V, 3, 3) of that size, poses (V, 4, 4) ->
        BEV map (V, C, R, W), validity (V, R, W), bin logits (V, D, Hf, Wf).
        """
        feats, logits = self.encoder(images)
        V, C, hf, wf = feats.shape
        pts, ok = self.lift_points(K, cam_to_map, (hf, wf))
        probs = torch.softmax(logits, 1).flatten(2)
        bev, _ = splat(feats.flatten(2), probs, pts.to(feats.dtype), ok, grid)
        valid = camera_validity(K, cam_to_map, images.shape[-2:], grid)
        return bev * valid[:, None].to(bev.dtype), valid, logits

    # --- fusion side ----------------------------------------------------------------------------
    def fuse(self, maps: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Fuse maps (G, N, C, R, W) aligned to the region, valid (G, N, R, W).

        Returns fused features (G, Cf, R, W).
        """
        return self.decoder(self.fusion(maps, valid))

    def heads(self, fused: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.det_head(fused), self.seg_head(fused)
