"""Deployment API of the RS-DFM model, wrapped by the ROS nodes (and used by `rsdfm evaluate`).

Typical use:
    rt = Runtime.load(weights=None, device='cpu', threads=1)
    enc = DroneEncoder(rt, budget={'topk': 1024, 'bits': 8})
    m = enc.encode(image_rgb_uint8, K, cam_to_map)          # EncodedMap (payload bytes)
    f = FusionDecoder(rt).fuse([(m, 'uav1'), ...])          # FusedMap
    dets = TaskHeads(rt).detect(f); semantic, instances = TaskHeads(rt).segment(f)
    # trajectories of tracked objects: rsdfm_core.model.trajectory.TrajectoryPredictor
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.codec import check_budget
from rsdfm_core.model.config import region_grid
from rsdfm_core.model.decode import decode_boxes, decode_instances, refine_centres
from rsdfm_core.model.network import prepare_image, RsdfmNet
from rsdfm_core.model.payload import (
    CODECS,
    pack_fused,
    pack_hlf,
    pack_raw,
    PayloadError,
    raw_payload_size,
    unpack_fused,
    unpack_hlf,
    unpack_raw,
)
from rsdfm_core.model.resample import resample
from rsdfm_core.model.weights import load_checkpoint, model_id
from rsdfm_core.types import ObjectState

__all__ = ['Runtime', 'DroneEncoder', 'FusionDecoder', 'TaskHeads', 'EncodedMap',
           'FusedMap', 'PayloadError', 'fused_to_payload', 'fused_from_payload', 'CODECS',
           'decode_payload']


@dataclass
class EncodedMap:
    """One drone's compressed BEV map: what goes into a BevFeature message."""

    grid: BevGrid
    channels: int
    codec: str            # 'hlf-v1' or 'raw-f32'
    payload: bytes
    raw_bytes: int        # size of the float32 map (channels * rows * cols * 4)


@dataclass
class FusedMap:
    """The fused fleet map over the fusion region: what goes into a FusedBev message."""

    features: np.ndarray  # (C, R, W) float16
    grid: BevGrid
    agents: list[str] = field(default_factory=list)
    coverage: np.ndarray | None = None  # (R, W) uint8: drones that saw each cell (None: unknown)
    corrections: list = field(default_factory=list)  # align.Correction per drone, when aligned


class Runtime:
    """Loaded weights plus the settings shared by all the deployment pieces."""

    def __init__(
        self, net: RsdfmNet, config: dict, extra: dict | None = None, device: str = 'cpu'
    ):
        self.net = net.to(device).eval()
        self.config = config
        self.extra = extra or {}
        self.device = torch.device(device)
        self.model_id = model_id(net)
        self.region = region_grid(config['model'])

    @staticmethod
    def load(
        weights: str | Path | None = None, device: str = 'cpu', threads: int | None = 1
    ) -> 'Runtime':
        """Load the model; weights None -> shipped default (rsdfm_core/data/rsdfm.pt).

        Random init if none is shipped.
        """
        if threads:
            torch.set_num_threads(int(threads))
        net, config, extra = load_checkpoint(weights)
        return Runtime(net, config, extra, device)

    @property
    def image_size(self) -> tuple[int, int]:
        w, h = self.config['model']['image_size']
        return int(w), int(h)


class DroneEncoder:
    """Drone side: image -> BEV map on `bev_grid` -> payload.

    The payload is 'hlf-v1' with the budget, or 'raw-f32'.

    altitude_scaling: above the highest training altitude the internal image grows with the
    camera height (up to the source resolution), so a vehicle covers as many feature pixels as
    it did in training; the ground-prior lifting and the fully convolutional encoder make this
    a free choice at run time. At or below that altitude the input size is the trained one.
    """

    def __init__(
        self,
        rt: Runtime,
        budget: dict | None = None,
        bev_grid: BevGrid | None = None,
        codec: str = 'hlf-v1',
        altitude_scaling: bool = True,
    ):
        if codec not in CODECS:
            raise ValueError(f'codec must be one of {CODECS}, got {codec!r}')
        self.rt, self.codec, self.altitude_scaling = rt, codec, altitude_scaling
        self.budget = check_budget(budget, rt.config['model']['codec'])
        self.grid = bev_grid or rt.region

    def payload_size(self) -> int:
        """Bytes of every payload this encoder makes (the budget formula)."""
        g, b = self.grid, self.budget
        if self.codec == 'raw-f32':
            return raw_payload_size(self.rt.config['model']['img_channels'], g.rows, g.cols)
        return self.rt.net.codec.payload_size(g.rows, g.cols, b['topk'], b['bits'])

    def input_size(self, width: int, height: int, camera_height: float) -> tuple[int, int]:
        """Return the internal (width, height) for a source image and camera height over ground."""
        w, h = self.rt.image_size
        top = float(self.rt.config['model'].get('train_altitude_max', 0.0) or 0.0)
        if not self.altitude_scaling or top <= 0 or camera_height <= top:
            return w, h
        s = camera_height / top
        sw, sh = int(round(w * s / 16)) * 16, int(round(h * s / 16)) * 16
        if sw > width or sh > height:          # never beyond the source resolution
            return (width // 16 * 16, height // 16 * 16) if width >= w and height >= h else (w, h)
        return sw, sh

    @torch.no_grad()
    def bev(
        self, image: np.ndarray, K: np.ndarray, cam_to_map: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Uncompressed BEV map (1, C, R, W) and validity (1, R, W) of one image."""
        cam_to_map = np.asarray(cam_to_map, dtype=np.float64)
        if cam_to_map.shape != (4, 4) or not np.isfinite(cam_to_map).all():
            raise ValueError(
                f'cam_to_map must be a finite 4x4 matrix, got shape {cam_to_map.shape}'
            )
        img, Ks = prepare_image(
            image, K, self.input_size(image.shape[1], image.shape[0], float(cam_to_map[2, 3]))
        )
        dev = self.rt.device
        t_img = torch.from_numpy(img).to(dev).permute(2, 0, 1)[None].float() / 255.0
        x, valid, _ = self.rt.net.drone_bev(
            t_img,
            torch.tensor(Ks[None], dtype=torch.float32, device=dev),
            torch.tensor(cam_to_map[None], dtype=torch.float32, device=dev),
            self.grid,
        )
        return x, valid

    @torch.no_grad()
    def compress(self, x: torch.Tensor, valid: torch.Tensor) -> bytes:
        """Payload bytes of a BEV map (1, C, R, W) with validity (1, R, W)."""
        if self.codec == 'raw-f32':
            return pack_raw(x[0].cpu().numpy(), valid[0].cpu().numpy())
        b = self.budget
        return pack_hlf(self.rt.net.codec.compress(x, valid, b['topk'], b['bits']))

    def encode(self, image: np.ndarray, K: np.ndarray, cam_to_map: np.ndarray) -> EncodedMap:
        x, valid = self.bev(image, K, cam_to_map)
        return EncodedMap(self.grid, int(x.shape[1]), self.codec, self.compress(x, valid),
                          int(x.shape[1] * x.shape[2] * x.shape[3] * 4))

    def encode_views(self, views) -> list[tuple[EncodedMap, str]]:
        """Encode every CameraView of a frame: [(map, agent id)], as FusionDecoder.fuse takes."""
        return [(self.encode(v.image, v.K, v.cam_to_map), v.agent_id) for v in views]


def decode_payload(rt: Runtime, m: EncodedMap) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode an EncodedMap into a (C, R, W) float map and (R, W) validity on m.grid.

    Raises PayloadError if it does not fit.
    """
    if m.codec == 'raw-f32':
        bev, valid = (torch.from_numpy(a) for a in unpack_raw(m.payload))
    elif m.codec == 'hlf-v1':
        bev, valid = rt.net.codec.decompress(unpack_hlf(m.payload))
    else:
        raise PayloadError(f'unknown codec {m.codec!r} (expected one of {CODECS})')
    want = (rt.config['model']['img_channels'], m.grid.rows, m.grid.cols)
    if tuple(bev.shape) != want:
        raise PayloadError(f'payload map shape {tuple(bev.shape)} does not match the grid {want}')
    return bev.to(rt.device), valid.to(rt.device)


class FusionDecoder:
    """Fusion side: decode payloads, resample into the region, attention fusion, BEV decoder."""

    def __init__(self, rt: Runtime, region: BevGrid | None = None, align=None,
                 reference: str | None = None):
        """Set up fusion over `region` (default: the model's).

        align: an align.AlignSettings to undo pose errors between drones before fusing (None:
        off); reference: the drone the others are aligned to, one whose pose is exact (None:
        none is; the maps then meet where the drones' poses agree on average).
        """
        self.rt = rt
        self.region = region or rt.region
        self.align, self.reference = align, reference

    @torch.no_grad()
    def region_inputs(
        self, maps: list[tuple[torch.Tensor, torch.Tensor, BevGrid]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Resample decoded maps [(bev, valid, grid)] into the region: (N, C, R, W), (N, R, W)."""
        xs, vs = [], []
        for bev, valid, grid in maps:
            x, v = resample(bev[None].float(), valid[None], grid, self.region)
            xs.append(x[0])
            vs.append(v[0])
        return torch.stack(xs), torch.stack(vs)

    def decoded(self, maps: list[tuple[EncodedMap, str]]
                ) -> list[tuple[torch.Tensor, torch.Tensor, BevGrid]]:
        """Decode the payloads of [(map, agent)]; a bad one raises PayloadError naming it."""
        out = []
        for m, agent in maps:
            try:
                bev, valid = decode_payload(self.rt, m)
            except PayloadError as exc:
                raise PayloadError(f'map from {agent}: {exc}') from None
            out.append((bev, valid, m.grid))
        return out

    @torch.no_grad()
    def fuse_maps(
        self, maps: list[tuple[torch.Tensor, torch.Tensor, BevGrid]], agents: list[str]
    ) -> FusedMap:
        """Already-decoded maps [(bev (C, R, W), valid (R, W), grid)] -> FusedMap."""
        if not maps:
            raise ValueError('no maps to fuse')
        x, valid = self.region_inputs(maps)
        corrections = []
        if self.align is not None and len(maps) > 1:
            x, valid, corrections = self.aligned(x, valid, list(agents))
        fused = self.rt.net.fuse(x[None], valid[None])
        coverage = (valid > 0.5).sum(0).cpu().numpy().astype(np.uint8)
        return FusedMap(     # torch casts to float16 in 0.1 ms, numpy in 3.5 ms here
            fused[0].half().cpu().numpy(), self.region, list(agents), coverage, corrections,
        )

    def fuse(self, maps: list[tuple[EncodedMap, str]]) -> FusedMap:
        return self.fuse_maps(self.decoded(maps), [a for _, a in maps])

    @torch.no_grad()
    def aligned(self, x: torch.Tensor, valid: torch.Tensor, agents: list[str]
                ) -> tuple[torch.Tensor, torch.Tensor, list]:
        """Undo the pose errors between the drones' maps (align.py): maps, validity, corrections.

        With signal 'decoded' each map is matched as the fusion side decodes it alone (one
        batched pass of fusion and BEV decoder, a drone per group), then moved as found.
        """
        from rsdfm_core.model.align import align_maps, apply_corrections
        ref = agents.index(self.reference) if self.reference in agents else None
        if self.align.signal == 'maps':
            return align_maps(x, valid, agents, self.region.resolution, self.align, ref)
        signal = self.rt.net.fuse(x[:, None], valid[:, None]).float()
        _, _, corrections = align_maps(signal, valid, agents, self.region.resolution,
                                       self.align, ref)
        return (*apply_corrections(x, valid, corrections), corrections)


class TaskHeads:
    """Detection and segmentation from a FusedMap."""

    def __init__(self, rt: Runtime, score_threshold: float = 0.3, centre_votes: bool = False,
                 heat_centres: bool = False):
        """Set up the heads; centre_votes and heat_centres refine the box centres.

        centre_votes: by the segmentation head (decode.refine_centres), which then runs with
        every detection; heat_centres: by the heatmap peak's shape (decode_boxes), at no cost.
        """
        self.rt, self.score_threshold, self.centre_votes = rt, score_threshold, centre_votes
        self.heat_centres = heat_centres

    def _features(self, f: FusedMap) -> torch.Tensor:
        Cf = self.rt.config['model']['fused_channels']
        if f.features.ndim != 3 or f.features.shape[0] != Cf:
            raise ValueError(f'fused map must be ({Cf}, rows, cols), got {f.features.shape}')
        # numpy's float16 -> float32 takes 1 ms a map here, torch's 0.1 ms
        return torch.from_numpy(np.ascontiguousarray(f.features)).float()[None].to(self.rt.device)

    @torch.no_grad()
    def detect(self, f: FusedMap, threshold: float | None = None) -> list[ObjectState]:
        x = self._features(f)
        boxes = decode_boxes(self.rt.net.det_head(x)[0].cpu(), f.grid,
                             self.score_threshold if threshold is None else threshold,
                             heat_centres=self.heat_centres)
        if self.centre_votes and boxes:
            boxes = refine_centres(boxes, self.rt.net.seg_head(x)[0].cpu(), f.grid)
        return boxes

    @torch.no_grad()
    def segment(self, f: FusedMap) -> tuple[np.ndarray, np.ndarray]:
        return decode_instances(self.rt.net.seg_head(self._features(f))[0].cpu())


def fused_to_payload(f: FusedMap) -> bytes:
    """Return the FusedBev payload of a FusedMap (layout in payload.py)."""
    return pack_fused(f.features)


def fused_from_payload(
    grid: BevGrid, channels: int, payload: bytes, agents: list[str] | None = None
) -> FusedMap:
    """Rebuild a FusedMap from FusedBev fields.

    Raises PayloadError if the size does not match the grid.
    """
    features = unpack_fused(payload, channels, grid.rows, grid.cols)
    return FusedMap(features, grid, list(agents or []))
