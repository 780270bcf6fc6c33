"""Score what the graph published (a Recorded) against the simulated bag's ground truth.

Same protocol as the offline evaluation: objects whose centre lies in the fusion region and
that at least one drone sees (rsdfm_core.training.targets), BEV AP at rotated IoU 0.5 and 0.7
(rsdfm_core.metrics), vehicle IoU and PQ of the BEV segmentation, and trajectory ADE against
the ground-truth future of the object each track sits on.
"""
from __future__ import annotations

import numpy as np

from rsdfm_bringup.recorded import Recorded, bytes_per_agent_frame, latency_ms, shift_stamps
from rsdfm_core.geometry import BevGrid
from rsdfm_core.metrics.detection import bev_ap
from rsdfm_core.metrics.segmentation import SegmentationMeter
from rsdfm_core.metrics.trajectory import TrajectoryMeter
from rsdfm_core.training.targets import box_masks, in_region, visible_ids
from rsdfm_core.types import Frame, ObjectState


def evaluated_objects(frame: Frame, grid: BevGrid) -> list[ObjectState]:
    """Ground truth that counts: inside the region and seen by at least one drone."""
    seen = visible_ids(frame.views, frame.objects)
    return in_region([o for o in frame.objects if o.track_id in seen], grid)


def _future(frames_by_stamp: dict[int, Frame], stamp: int, track_id: int, steps: int, dt_ns: int) -> np.ndarray | None:
    pts = []
    for k in range(1, steps + 1):
        frame = frames_by_stamp.get(stamp + k * dt_ns)
        obj = next((o for o in frame.objects if o.track_id == track_id), None) if frame else None
        if obj is None:
            return None
        pts.append((obj.x, obj.y))
    return np.array(pts)


def score(rec: Recorded, frames: list[Frame], grid: BevGrid, offset_ns: int = 0, step_s: float = 0.5,
          sent_at: dict[int, int] | None = None) -> dict:
    """Figures of the graph's outputs over the bag's frames (stamps moved back by the replay offset)."""
    dets = shift_stamps(rec.detections, offset_ns)
    gts = {f.stamp_ns: evaluated_objects(f, grid) for f in frames}
    pairs = [(dets.get(s, []), gts[s]) for s in sorted(gts)]
    out = {'frames': len(frames), 'frames_with_detections': sum(s in dets for s in gts),
           'ap50': bev_ap(pairs, 0.5)['mean'], 'ap70': bev_ap(pairs, 0.7)['mean'],
           'gt_objects': sum(len(g) for g in gts.values())}
    seg = SegmentationMeter()
    sem, inst = shift_stamps(rec.segmentation, offset_ns), shift_stamps(rec.instances, offset_ns)
    for s, g in gts.items():
        if s in sem and s in inst and sem[s].shape == (grid.rows, grid.cols):
            gi = box_masks(g, grid)
            seg.add(sem[s], inst[s], gi > 0, gi)
    out['iou'], out['pq'] = seg.iou, seg.pq
    by_stamp = {f.stamp_ns: f for f in frames}
    dt_ns = int(round(step_s * 1e9))
    frame_dt = int(np.median(np.diff(sorted(by_stamp)))) if len(by_stamp) > 1 else dt_ns
    dt_ns = int(round(dt_ns / frame_dt)) * frame_dt          # land exactly on frame stamps
    out['ade'] = {}
    for horizon in (1.0, 2.0, 3.0):
        steps = int(round(horizon / step_s))
        meter = TrajectoryMeter(dt=step_s, horizons=(horizon,))
        for s, tracks in shift_stamps(rec.trajectories, offset_ns).items():
            positions = {d.track_id: d for d in dets.get(s, []) if d.track_id}
            frame = by_stamp.get(s)
            for track_id, _label, points in tracks:
                det = positions.get(track_id)
                if det is None or frame is None or len(points) < steps or not frame.objects:
                    continue
                gt = min(frame.objects, key=lambda o: np.hypot(o.x - det.x, o.y - det.y))
                if np.hypot(gt.x - det.x, gt.y - det.y) > 2.0:
                    continue
                future = _future(by_stamp, s, gt.track_id, steps, dt_ns)
                if future is not None:
                    meter.add(points[:steps], future)
        out['ade'][f'{horizon:g}s'] = meter.result()[0][f'{horizon:g}s'] if meter.count else float('nan')
    out['bytes_per_agent_frame'] = bytes_per_agent_frame(rec)
    raw = list(rec.feature_raw_bytes.values())
    out['raw_bytes_per_agent_frame'] = float(np.mean(raw)) if raw else float('nan')
    out['latency_ms_median'] = latency_ms(rec, sent_at, offset_ns)
    return out
