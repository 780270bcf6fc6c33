"""Score what the graph published (a Recorded) against the simulated bag's ground truth.

Same protocol and pieces as `rsdfm evaluate` (rsdfm_core.training.evaluate): objects whose
centre lies in the fusion region and that at least one drone sees, BEV AP at rotated IoU 0.5
and 0.7, vehicle IoU and PQ of the BEV segmentation, and trajectory ADE/FDE of tracks matched
to ground truth; only the predictions come from the recorded ROS outputs.
"""
from __future__ import annotations

import numpy as np

from rsdfm_bringup.recorded import bytes_per_agent_frame, latency_ms, Recorded, shift_stamps
from rsdfm_core.geometry import BevGrid
from rsdfm_core.metrics.detection import bev_ap
from rsdfm_core.metrics.segmentation import SegmentationMeter
from rsdfm_core.metrics.trajectory import TrajectoryMeter
from rsdfm_core.training.evaluate import add_trajectories
from rsdfm_core.training.targets import box_masks, in_region, visible_ids
from rsdfm_core.types import Frame, ObjectState

WARMUP_FRAMES = 5      # as rsdfm evaluate: trajectories of the first frames have no history yet


def evaluated_objects(frame: Frame, grid: BevGrid) -> list[ObjectState]:
    """Ground truth that counts: inside the region and seen by at least one drone."""
    seen = visible_ids(frame.views, frame.objects)
    return in_region([o for o in frame.objects if o.track_id in seen], grid)


def score(
    rec: Recorded,
    frames: list[Frame],
    grid: BevGrid,
    offset_ns: int = 0,
    step_s: float = 0.5,
    sent_at: dict[int, int] | None = None,
    mapped: set[int] | None = None,
) -> dict:
    """Figures of the graph's outputs over the bag's frames.

    Recorded stamps are moved back by the replay offset first. mapped: the bag stamps the
    drones map (perception map_rate); None = every frame. Detection and segmentation are scored
    on those frames, each of them without outputs counting as a frame with nothing found.
    """
    dets = shift_stamps(rec.detections, offset_ns)
    gts = {f.stamp_ns: evaluated_objects(f, grid) for f in frames
           if mapped is None or f.stamp_ns in mapped}
    pairs = [(dets.get(s, []), gts[s]) for s in sorted(gts)]
    out = {'frames': len(gts), 'camera_frames': len(frames),
           'frames_with_detections': sum(s in dets for s in gts),
           'ap50': bev_ap(pairs, 0.5)['mean'], 'ap70': bev_ap(pairs, 0.7)['mean'],
           'gt_objects': sum(len(g) for g in gts.values())}
    seg = SegmentationMeter()
    sem, inst = shift_stamps(rec.segmentation, offset_ns), shift_stamps(rec.instances, offset_ns)
    for s, g in gts.items():
        if s in sem and s in inst and sem[s].shape == (grid.rows, grid.cols):
            gi = box_masks(g, grid)
            seg.add(sem[s], inst[s], gi > 0, gi)
    out['iou'], out['pq'] = seg.iou, seg.pq
    trajectories = shift_stamps(rec.trajectories, offset_ns)
    meter = TrajectoryMeter(dt=step_s)
    for i, frame in enumerate(frames):
        if i < WARMUP_FRAMES or frame.stamp_ns not in trajectories or frame.stamp_ns not in gts:
            continue
        states = {d.track_id: d for d in dets.get(frame.stamp_ns, []) if d.track_id}
        outs = [
            (states[t], points)
            for t, _label, points in trajectories[frame.stamp_ns]
            if t in states
        ]
        add_trajectories(
            outs, gts[frame.stamp_ns], frames, i, len(outs[0][1]) if outs else 0, step_s, meter
        )
    out['ade'], out['fde'] = meter.result()
    out['trajectories'] = meter.count
    out['bytes_per_agent_frame'] = bytes_per_agent_frame(rec)
    raw = list(rec.feature_raw_bytes.values())
    out['raw_bytes_per_agent_frame'] = float(np.mean(raw)) if raw else float('nan')
    out['latency_ms_median'] = latency_ms(rec, sent_at, offset_ns)
    return out
