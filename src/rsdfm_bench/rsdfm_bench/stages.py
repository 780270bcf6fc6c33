"""Per-stage time of the model per frame, with one thread and with all threads.

Drone side, per drone image: preprocess (resize, to tensor), encoder, lifting (ground-prior rays,
height distribution, splat, camera validity), codec encode (HLF latents, top-k, quantize, pack).
Fusion side, per fleet frame: codec decode and resampling of every drone's map, attention fusion,
BEV decoder, and each head with its decoding (detection boxes with the tracker, as detection_node;
segmentation instances; trajectory head over the tracked boxes). The stages call the model's own
submodules in the order drone_bev and FusionDecoder use them; drones map onto a grid centred where
their camera looks (perception_node's bev_range), so resampling does real work (with the default
shared grid it is skipped).
"""
from __future__ import annotations

import numpy as np
import torch

from rsdfm_bench.timing import all_threads, progress, StageClock, torch_threads
from rsdfm_core.geometry import BevGrid
from rsdfm_core.types import Frame

# detection_node's score_threshold default (config/rsdfm.yaml): the boxes it decodes and publishes
SCORE_THRESHOLD = 0.05
DRONE_STAGES = ('preprocess', 'encoder', 'lifting', 'codec encode')
FUSION_STAGES = ('codec decode', 'resampling', 'fusion', 'bev decoder', 'detection head',
                 'segmentation head', 'trajectory head')


def aim_grid(cam_to_map: np.ndarray, like: BevGrid) -> BevGrid:
    """Return a grid the size of `like`, centred where the optical axis meets the ground.

    The same centring as perception_node's.
    """
    c, d = cam_to_map[:3, 3], cam_to_map[:3, 2]
    centre = c[:2] + d[:2] * (-c[2] / d[2]) if d[2] < -1e-6 else c[:2]
    return BevGrid.centred(float(centre[0]), float(centre[1]), like.cols * like.resolution,
                           like.rows * like.resolution, like.resolution)


@torch.no_grad()
def run_frame(rt, frame: Frame, clock: StageClock, tracker, predictor) -> None:
    """One fleet frame through every stage, timing each into `clock`."""
    from rsdfm_core.model.lift import camera_validity, splat
    from rsdfm_core.model.network import prepare_image
    from rsdfm_core.model.resample import resample
    from rsdfm_core.model.runtime import (
        decode_payload,
        DroneEncoder,
        EncodedMap,
        FusedMap,
        TaskHeads,
    )
    net, region = rt.net, rt.region
    maps = []
    for v in frame.views:
        grid = aim_grid(v.cam_to_map, region)
        enc = DroneEncoder(rt, bev_grid=grid)
        with clock('drone side (total)'):
            with clock('preprocess'):
                img, Ks = prepare_image(v.image, v.K, rt.image_size)
                t_img = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
                K = torch.tensor(Ks[None], dtype=torch.float32)
                pose = torch.tensor(np.asarray(v.cam_to_map)[None], dtype=torch.float32)
            with clock('encoder'):
                feats, logits = net.encoder(t_img)
            with clock('lifting'):
                pts, ok = net.lift_points(K, pose, feats.shape[-2:])
                probs = torch.softmax(logits, 1).flatten(2)
                bev, _ = splat(feats.flatten(2), probs, pts.to(feats.dtype), ok, grid)
                valid = camera_validity(K, pose, t_img.shape[-2:], grid)
                x = bev * valid[:, None].to(bev.dtype)
            with clock('codec encode'):
                payload = enc.compress(x, valid)
        maps.append(EncodedMap(grid, int(x.shape[1]), 'hlf-v1', payload, int(x.numel() * 4)))
    heads = TaskHeads(rt, score_threshold=SCORE_THRESHOLD)
    with clock('fusion side (total)'):
        with clock('codec decode'):
            decoded = [decode_payload(rt, m) for m in maps]
        with clock('resampling'):
            xs, vs = [], []
            for (b, val), m in zip(decoded, maps):
                xr, vr = resample(b[None].float(), val[None], m.grid, region)
                xs.append(xr[0])
                vs.append(vr[0])
        with clock('fusion'):
            f = net.fusion(torch.stack(xs)[None], torch.stack(vs)[None])
        with clock('bev decoder'):
            fused = net.decoder(f)
        fm = FusedMap(
            fused[0].numpy().astype(np.float16), region, [v.agent_id for v in frame.views]
        )
        run_heads(clock, heads, tracker, predictor, frame.stamp_ns, fm)


def run_heads(clock: StageClock, heads, tracker, predictor, stamp_ns: int, fused) -> None:
    """Run the task nodes' work on one fused map, timing each step into `clock`.

    Detection with the tracker (as detection_node), segmentation, trajectories over the tracked
    boxes.
    """
    from rsdfm_core.model.trajectory import track_detections

    with clock('detection head'):
        objects = track_detections(tracker, stamp_ns, heads.detect(fused))
    with clock('segmentation head'):
        heads.segment(fused)
    with clock('trajectory head'):
        predictor.predict(stamp_ns, fused, objects)


def measure_stages(rt, frames: list[Frame]) -> dict:
    """Return {'threads_1': {...}, 'threads_all': {...}}: per-stage summaries over `frames`.

    The first frame is warm-up.
    """
    from rsdfm_core.model.tracker import Tracker
    from rsdfm_core.model.trajectory import TrajectoryPredictor

    out = {'frames': len(frames) - 1, 'drones': len(frames[0].views), 'all_threads': all_threads(),
           'drone_stages': list(DRONE_STAGES), 'fusion_stages': list(FUSION_STAGES)}
    for key, n in (('threads_1', 1), ('threads_all', all_threads())):
        with torch_threads(n):
            clock = StageClock()
            tracker, predictor = Tracker(min_score=0.3), TrajectoryPredictor(rt)
            for i, frame in enumerate(frames):
                run_frame(rt, frame, clock if i else StageClock(), tracker, predictor)
                if (i + 1) % 10 == 0:
                    progress(f'stages ({n} thread{"s" * (n > 1)}): {i + 1}/{len(frames)} frames')
            res = clock.summaries()
        out[key] = {'threads': n, 'stages': res}
        d, f = res['drone side (total)']['median_ms'], res['fusion side (total)']['median_ms']
        progress(
            f'stages ({n} thread{"s" * (n > 1)}): drone side {d:.1f} ms per image, '
            f'fusion side {f:.1f} ms '
            f'per frame of {out["drones"]} drones (median)'
        )
    return out


def stage_shares(res: dict, extra: dict[str, float] | None = None) -> dict[str, float]:
    """Return each stage's median's share of one frame's path.

    The path: one drone's image, transport, fusion side.
    """
    st = res['stages']
    parts = {f'drone: {k}': st[k]['median_ms'] for k in DRONE_STAGES}
    parts.update(extra or {})
    parts.update({f'fusion: {k}': st[k]['median_ms'] for k in FUSION_STAGES})
    total = sum(parts.values())
    return {k: v / total for k, v in parts.items()} if total > 0 else {}
