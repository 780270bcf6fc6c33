"""High/low-frequency (HLF) feature codec, after RS-DFM's dual-branch compression.

Low frequency: the BEV map average-pooled by `pool`, reduced to `lf_channels` by a 1x1 conv,
uniformly quantized to `bits` per value and sent densely. High frequency: the residual
x - up(LF), reduced to `hf_channels`, sent only at the top-k cells of a learned saliency map
(indices + quantized values). The budget (topk, bits) is chosen at run time; training uses
straight-through quantization so the network learns to live with it.

The byte layout lives in payload.py; this module holds the learned parts and the tensor maths
shared by training (differentiable) and deployment (integers packed into bytes).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Quantized:
    """Integer codes (uint8 range) with per-channel offsets and steps: value = lo + q * step."""

    q: torch.Tensor       # (B, Ch, ...) float tensor holding integers in [0, 2^bits - 1]
    lo: torch.Tensor      # (B, Ch)
    step: torch.Tensor    # (B, Ch)

    def dequantize(self) -> torch.Tensor:
        shape = self.lo.shape + (1,) * (self.q.dim() - 2)
        return self.lo.view(shape) + self.q * self.step.view(shape)


def quantize(y: torch.Tensor, bits: int) -> Quantized:
    """Per-sample, per-channel uniform quantization of y (B, Ch, ...) to `bits` bits; error <= step / 2."""
    if not 1 <= bits <= 8:
        raise ValueError(f'codec bits must be in 1..8, got {bits}')
    flat = y.detach().flatten(2)
    lo = flat.amin(-1) if flat.shape[-1] else torch.zeros(flat.shape[:2])
    hi = flat.amax(-1) if flat.shape[-1] else torch.zeros(flat.shape[:2])
    step = ((hi - lo) / (2 ** bits - 1)).clamp(min=1e-8)
    shape = lo.shape + (1,) * (y.dim() - 2)
    q = torch.round((y.detach() - lo.view(shape)) / step.view(shape)).clamp(0, 2 ** bits - 1)
    return Quantized(q, lo, step)


def straight_through(y: torch.Tensor, bits: int) -> torch.Tensor:
    """Quantize-dequantize in the forward pass, identity gradient in the backward pass."""
    return y + (quantize(y, bits).dequantize() - y).detach()


class HlfCodec(nn.Module):
    """The learned parts of the codec and its differentiable forward pass (encode then decode)."""

    def __init__(self, channels: int, lf_channels: int, hf_channels: int, pool: int):
        super().__init__()
        self.channels, self.lf_channels, self.hf_channels, self.pool = channels, lf_channels, hf_channels, pool
        self.lf_reduce = nn.Conv2d(channels, lf_channels, 1)
        self.lf_expand = nn.Conv2d(lf_channels, channels, 1)
        self.hf_reduce = nn.Conv2d(channels, hf_channels, 1)
        self.hf_expand = nn.Linear(hf_channels, channels)
        self.saliency = nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(16, 1, 1))

    # --- drone side -------------------------------------------------------------------------
    def low_latent(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, R, W) -> (B, Cl, ceil(R/p), ceil(W/p)) before quantization."""
        return self.lf_reduce(F.avg_pool2d(x, self.pool, ceil_mode=True))

    def low_decode(self, lat: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(self.lf_expand(lat), size=size, mode='bilinear', align_corners=False)

    def select(self, x: torch.Tensor, valid: torch.Tensor, topk: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Saliency logits (B, R, W) and the flat indices (B, k) of the k most salient valid cells."""
        s = self.saliency(x)[:, 0]
        k = min(int(topk), s.shape[-1] * s.shape[-2])
        ranked = torch.where(valid, s, torch.full_like(s, -1e4)).detach().flatten(1)
        idx = torch.topk(ranked, k, dim=1).indices if k > 0 else ranked.new_zeros(ranked.shape[0], 0).long()
        return s, torch.sort(idx, dim=1).values

    def high_latent(self, x: torch.Tensor, x_lf: torch.Tensor, s: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Reduced residual at the selected cells, gated by saliency: (B, Ch, k)."""
        r = self.hf_reduce(x - x_lf).flatten(2)                                   # (B, Ch, R*W)
        gate = torch.sigmoid(s.flatten(1).gather(1, idx))[:, None, :]             # (B, 1, k)
        return r.gather(2, idx[:, None, :].expand(-1, r.shape[1], -1)) * gate

    def high_decode(self, vals: torch.Tensor, idx: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Scatter the expanded residual values (B, Ch, k) at idx (B, k) into a dense (B, C, R, W) map."""
        B = vals.shape[0]
        e = self.hf_expand(vals.transpose(1, 2)).transpose(1, 2)                  # (B, C, k)
        out = e.new_zeros(B, self.channels, size[0] * size[1])
        out = out.scatter(2, idx[:, None, :].expand(-1, self.channels, -1), e)
        return out.view(B, self.channels, *size)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, topk: int, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable encode+decode with straight-through quantization: (x_hat, saliency logits)."""
        size = x.shape[-2:]
        x_lf = self.low_decode(straight_through(self.low_latent(x), bits), size)
        s, idx = self.select(x, valid, topk)
        vals = straight_through(self.high_latent(x, x_lf, s, idx), bits)
        x_hat = x_lf + self.high_decode(vals, idx, size)
        return x_hat * valid[:, None].to(x.dtype), s
