"""Lifting image features onto the ground: ground-prior (relative depth) and LSS absolute depth.

Ground prior (RS-DFM): each feature pixel's ray meets the ground at the analytic depth
t_g = -c_z / d_z (geometry.ray_ground_depth, here in torch). A point h metres above the ground on
the same ray lies at t = t_g * (1 - h / c_z), so the network only predicts a distribution over a
few height bins, independent of altitude and pitch. The absolute variant (Lift-Splat-Shoot)
predicts a distribution over z-depth bins instead; both return points (B, D, N, 3) in map and
share the splat below.
"""
from __future__ import annotations

import math

import torch

from rsdfm_core.geometry import BevGrid


def feature_pixel_rays(K: torch.Tensor, cam_to_map: torch.Tensor, feat_hw: tuple[int, int],
                       stride: int) -> torch.Tensor:
    """Ray directions in map (B, N, 3), N = Hf * Wf, optical z component 1 (t == z-depth).

    K: (B, 3, 3) intrinsics of the internal image; cam_to_map: (B, 4, 4). Feature pixel (i, j)
    looks through the internal-image point ((j + 0.5) * stride, (i + 0.5) * stride).
    """
    hf, wf = feat_hw
    dev, dt = K.device, K.dtype
    v, u = torch.meshgrid((torch.arange(hf, device=dev, dtype=dt) + 0.5) * stride,
                          (torch.arange(wf, device=dev, dtype=dt) + 0.5) * stride, indexing='ij')
    uv1 = torch.stack(
        [u.reshape(-1), v.reshape(-1), torch.ones(hf * wf, device=dev, dtype=dt)], -1
    )
    d_cam = uv1 @ torch.linalg.inv(K).transpose(1, 2)           # (B, N, 3)
    return d_cam @ cam_to_map[:, :3, :3].transpose(1, 2)          # rotate into map


def ground_prior_points(
    K: torch.Tensor,
    cam_to_map: torch.Tensor,
    feat_hw: tuple[int, int],
    stride: int,
    heights: torch.Tensor,
    ground_z: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map points (B, D, N, 3) of every feature pixel at every height bin, and validity (B, 1, N).

    Invalid where the ray does not reach the ground (at/above the horizon) or the camera is below
    the top height bin.
    """
    d = feature_pixel_rays(K, cam_to_map, feat_hw, stride)       # (B, N, 3)
    c = cam_to_map[:, :3, 3]                                      # (B, 3)
    c_z = (c[:, 2] - ground_z)[:, None]                           # (B, 1)
    dz = d[..., 2]
    valid = (dz < -1e-6) & (c_z > heights.max() + 1e-3)
    t_g = torch.where(
        valid, -c_z / torch.where(valid, dz, -torch.ones_like(dz)), torch.zeros_like(dz)
    )
    t = t_g[:, None, :] * (1.0 - heights[None, :, None] / c_z[:, :, None])   # (B, D, N)
    pts = c[:, None, None, :] + t[..., None] * d[:, None, :, :]
    return pts, valid[:, None, :]


def depth_bin_centres(dmin: float, dmax: float, count: int,
                      spacing: str = 'log') -> torch.Tensor:
    """Absolute z-depth bin centres of the LSS baseline, evenly spaced or log-spaced."""
    if spacing == 'linear':
        return torch.linspace(dmin, dmax, count)
    if spacing != 'log':
        raise ValueError(f"depth_bins.spacing must be 'linear' or 'log', got {spacing!r}")
    return torch.exp(torch.linspace(math.log(dmin), math.log(dmax), count))


def absolute_depth_points(
    K: torch.Tensor,
    cam_to_map: torch.Tensor,
    feat_hw: tuple[int, int],
    stride: int,
    depths: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map points (B, D, N, 3) at absolute z-depth bins, validity (B, 1, N) (all rays valid)."""
    d = feature_pixel_rays(K, cam_to_map, feat_hw, stride)
    c = cam_to_map[:, :3, 3]
    pts = c[:, None, None, :] + depths[None, :, None, None] * d[:, None, :, :]
    return pts, torch.ones(d.shape[0], 1, d.shape[1], dtype=torch.bool, device=d.device)


def grid_affine_torch(grid: BevGrid, like: torch.Tensor) -> torch.Tensor:
    """2x3 affine (map x, y) -> continuous (col, row) of `grid`, as a tensor like `like`."""
    import numpy as np
    A = np.linalg.inv(grid.grid_to_map())[:2]
    return torch.as_tensor(A, dtype=like.dtype, device=like.device)


def splat(
    features: torch.Tensor,
    probs: torch.Tensor,
    points: torch.Tensor,
    valid: torch.Tensor,
    grid: BevGrid,
    z_range: tuple[float, float] = (-2.0, 8.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum-pool lifted features into the BEV grid with one index_add_ (no Python loop over points).

    features: (B, C, N) image features; probs: (B, D, N) depth/height distribution;
    points: (B, D, N, 3) map points; valid: (B, 1, N). Returns the BEV map (B, C, rows, cols),
    normalised by max(weight, 1) so cell magnitudes do not grow with pixel density, and the
    splatted weight (B, rows, cols).
    """
    B, C, N = features.shape
    D = probs.shape[1]
    A = grid_affine_torch(grid, points)
    cr = points[..., :2] @ A[:, :2].T + A[:, 2]  # (B, D, N, 2) continuous (col, row)
    col, row = torch.floor(cr[..., 0]).long(), torch.floor(cr[..., 1]).long()
    z = points[..., 2]
    keep = (valid.expand(B, D, N) & (col >= 0) & (col < grid.cols) & (row >= 0) & (row < grid.rows)
            & (z >= z_range[0]) & (z <= z_range[1]))
    cells = grid.rows * grid.cols
    # gather the kept (view, bin, ray) triples by index: a boolean mask over the features
    # expanded to (B, D, N, C) would cost a dense gradient of that size in training
    b, d, n = keep.nonzero(as_tuple=True)
    flat = b * cells + row[b, d, n] * grid.cols + col[b, d, n]
    w = probs[b, d, n]                                            # (M,)
    f = features.permute(0, 2, 1)[b, n] * w[:, None]              # (M, C)
    acc = features.new_zeros(B * cells, C).index_add_(0, flat, f)
    wsum = features.new_zeros(B * cells).index_add_(0, flat, w)
    bev = acc / wsum.clamp(min=1.0)[:, None]
    bev = bev.view(B, grid.rows, grid.cols, C).permute(0, 3, 1, 2).contiguous()
    return bev, wsum.view(B, grid.rows, grid.cols)


def camera_validity(K: torch.Tensor, cam_to_map: torch.Tensor, image_hw: tuple[int, int],
                    grid: BevGrid) -> torch.Tensor:
    """Return (B, rows, cols) bool: the ground point of each cell centre is seen by the camera.

    Seen means in front of the camera and inside the image.
    """
    centres = torch.as_tensor(grid.cell_centres(), dtype=K.dtype, device=K.device).reshape(-1, 2)
    ones = torch.ones_like(centres[:, :1])
    p = torch.cat([centres, torch.zeros_like(ones), ones], 1)    # (M, 4)
    m2c = torch.linalg.inv(cam_to_map)                           # (B, 4, 4)
    pc = p @ m2c.transpose(1, 2)                                 # (B, M, 4)
    z = pc[..., 2]
    uvw = pc[..., :3] @ K.transpose(1, 2)
    u = uvw[..., 0] / z.clamp(min=1e-6)
    v = uvw[..., 1] / z.clamp(min=1e-6)
    h, w = image_hw
    ok = (z > 1e-3) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    return ok.view(-1, grid.rows, grid.cols)
