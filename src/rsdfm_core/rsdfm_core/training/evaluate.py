"""One evaluation for every method over bag frames.

Methods: collaborative, single, late, raw, absolute-depth.

Ground truth: objects inside the fusion region that at least one drone sees (training.targets.
visible_ids). Detection AP at rotated IoU 0.5 / 0.7, segmentation IoU / PQ against the rasterised
boxes, ADE / FDE of tracked objects matched to ground truth (learned head and constant velocity),
and payload bytes per drone per frame. As in the graph, one tracker (detection_node's rule,
model.trajectory.track_detections) gives the ids, and both predictors read its tracked objects.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np
from scipy.optimize import linear_sum_assignment

from rsdfm_core.fleet_errors import FleetErrors, true_pose, view_error
from rsdfm_core.metrics.detection import bev_ap, rotated_iou
from rsdfm_core.metrics.misplacement import misplacement, summarise as summarise_misplacement
from rsdfm_core.metrics.segmentation import SegmentationMeter
from rsdfm_core.metrics.trajectory import TrajectoryMeter
from rsdfm_core.model.align import corrections_summary
from rsdfm_core.model.runtime import (
    DroneEncoder,
    EncodedMap,
    FusionDecoder,
    Runtime,
    TaskHeads,
)
from rsdfm_core.model.tracker import Tracker
from rsdfm_core.model.trajectory import track_detections, TrajectoryPredictor
from rsdfm_core.training.targets import box_masks, in_region, visible_ids
from rsdfm_core.types import continues_sequence, Frame, ObjectState

MODES = ('collaborative', 'single', 'late', 'raw', 'absolute-depth')
LATE_BOX_BYTES = 40        # 9 float32 (x y z l w h yaw vx vy) + float16 score + uint8 label + pad
AP_THRESHOLD = 0.05        # keep low-score boxes for the precision-recall curve
MATCH_RADIUS = 2.0         # metres, predicted track <-> ground truth for ADE / FDE
OFFSET_RADIUS = 5.0        # metres, detection <-> ground truth for the map's displacement
FRAME_OFFSET_MIN_MATCHES = 3  # a frame's own offset needs this many matched vehicles


def nms(boxes: list[ObjectState], iou_threshold: float = 0.1) -> list[ObjectState]:
    """Rotated-IoU non-maximum suppression across drones (late fusion)."""
    boxes = sorted(boxes, key=lambda b: -b.score)
    if not boxes:
        return []
    rows = np.array([[b.x, b.y, b.length, b.width, b.yaw] for b in boxes])
    iou = rotated_iou(rows, rows)
    keep, dead = [], np.zeros(len(boxes), bool)
    for i in range(len(boxes)):
        if dead[i]:
            continue
        keep.append(boxes[i])
        dead |= iou[i] > iou_threshold
        dead[i] = True
    return keep


def future_positions(
    frames: list[Frame], i: int, track_id: int, steps: int, dt: float
) -> np.ndarray | None:
    """Return the (steps, 2) ground-truth positions of a track at dt, 2 dt, ... after frame i.

    None if any is missing. Frames must be in time order within a sequence; a later sequence
    must start later in time (see offset_sequences), so futures never cross into it.
    """
    t0 = frames[i].stamp_ns
    out = []
    j = i
    for k in range(1, steps + 1):
        target = t0 + int(round(k * dt * 1e9))
        while j < len(frames) and frames[j].stamp_ns < target - 5_000_000:
            j += 1
        if j >= len(frames) or abs(frames[j].stamp_ns - target) > 5_000_000:
            return None
        o = next((o for o in frames[j].objects if o.track_id == track_id), None)
        if o is None:
            return None
        out.append((o.x, o.y))
    return np.array(out)


def evaluate_frames(
    frames: list[Frame],
    rt: Runtime,
    mode: str = 'collaborative',
    budget: dict | None = None,
    progress: bool = True,
    warmup_frames: int = 5,
    bev_cache: dict | None = None,
    align=None,
    reference: str | None = None,
    fleet_errors: FleetErrors | None = None,
    detections_out: list | None = None,
    centre_votes: bool = False,
    heat_centres: bool = False,
) -> dict:
    """Metrics of one method over a list of frames (all drones' views in each).

    bev_cache: optional dict reused across calls with the same runtime and frames, holding each
    view's uncompressed BEV map so a sweep over budgets and methods runs the encoder once.
    fleet_errors: the errors apply_fleet_errors gave the frames; with pose noise, how far each
    drone's map puts the ground before and after alignment is measured ('misplacement').
    detections_out: if given, each frame's (detections, scored ground truths) is appended to it.
    centre_votes, heat_centres: box centres refined by the segmentation head's votes, by the
    heatmap peak's shape (TaskHeads).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    if not frames:
        raise ValueError('no frames to evaluate')
    codec = 'raw-f32' if mode == 'raw' else 'hlf-v1'
    enc = DroneEncoder(rt, budget=budget, codec=codec)
    fus = FusionDecoder(rt, align=align, reference=reference)
    heads = TaskHeads(rt, centre_votes=centre_votes, heat_centres=heat_centres)
    corrections = []
    noisy = fleet_errors is not None and bool(fleet_errors.position_sigma_m
                                              or fleet_errors.rotation_sigma_deg)
    misplaced: dict[str, list] = {'before': [], 'after': []}
    mcfg = rt.config['model']
    steps, dt = mcfg['future_steps'], mcfg['future_dt']
    tracker, learned, cv = trajectory_pieces(rt, mode, heads)
    det_frames, seg, traj, traj_cv = (
        [],
        SegmentationMeter(),
        TrajectoryMeter(dt),
        TrajectoryMeter(dt),
    )
    bytes_sent, n_agent_frames, raw_bytes, outside = 0, 0, 0, 0
    displacements: list[np.ndarray] = []
    frame_offsets: list[float] = []       # per frame: how far the whole map sits off
    t0 = time.time()
    cache = bev_cache if bev_cache is not None else {}

    def encode(i, v):
        key = (i, v.agent_id)
        if key not in cache:
            cache[key] = enc.bev(v.image, v.K, v.cam_to_map)
        x, valid = cache[key]
        if bev_cache is None:
            del cache[key]
        return EncodedMap(
            enc.grid, int(x.shape[1]), enc.codec, enc.compress(x, valid), int(x.numel() * 4)
        )

    seq_start = 0
    for i, frame in enumerate(frames):
        if i and not continues_sequence(frames[i - 1], frame):
            # a new sequence (several bags in one list): tracks and map history start afresh
            tracker, learned, cv = trajectory_pieces(rt, mode, heads)
            seq_start = i
        ids = visible_ids(frame.views, frame.objects)
        seen = [o for o in frame.objects if o.track_id in ids]
        gts = in_region(seen, rt.region)
        outside += len(seen) - len(gts)
        views = frame.views[:1] if mode == 'single' else frame.views
        if mode == 'late':
            boxes = []
            for v in views:
                m = encode(i, v)
                f1 = fus.fuse([(m, v.agent_id)])
                own = heads.detect(f1, threshold=AP_THRESHOLD)
                boxes += own
                sent = [b for b in own if b.score >= heads.score_threshold]
                bytes_sent += LATE_BOX_BYTES * len(sent)
                raw_bytes += m.raw_bytes
                n_agent_frames += 1
            dets = nms(boxes)
            inst = box_masks([d for d in dets if d.score >= heads.score_threshold], rt.region)
            sem = (inst > 0).astype(np.uint8)
            f = None
        else:
            maps = []
            for v in views:
                m = encode(i, v)
                maps.append((m, v.agent_id))
                bytes_sent += len(m.payload)
                raw_bytes += m.raw_bytes
                n_agent_frames += 1
            f = fus.fuse(maps)
            corrections += f.corrections
            if noisy:
                measure_misplacement(frame.stamp_ns, views, f, fleet_errors, reference,
                                     misplaced)
            dets = heads.detect(f, threshold=AP_THRESHOLD)
            sem, inst = heads.segment(f)
        det_frames.append((dets, gts))
        moved = matched_displacements([d for d in dets if d.score >= heads.score_threshold], gts)
        displacements += moved
        if len(moved) >= FRAME_OFFSET_MIN_MATCHES:
            frame_offsets.append(float(np.hypot(*np.median(moved, axis=0))))
        seg.add(sem, inst, box_masks(gts, rt.region) > 0, box_masks(gts, rt.region))
        tracked = track_detections(tracker, frame.stamp_ns, dets)
        out_l = learned.predict(frame.stamp_ns, f, tracked)
        out_c = cv.predict(frame.stamp_ns, f, tracked)
        if i - seq_start >= warmup_frames:
            for outs, meter in ((out_l, traj), (out_c, traj_cv)):
                add_trajectories(outs, gts, frames, i, steps, dt, meter)
        if progress and (i + 1) % 10 == 0:
            el = time.time() - t0
            print(f'evaluate[{mode}]: {i + 1}/{len(frames)} frames, {el / (i + 1):.2f} s/frame, '
                  f'ETA {el / (i + 1) * (len(frames) - i - 1):.0f} s', file=sys.stderr, flush=True)
    if detections_out is not None:
        detections_out.extend(det_frames)
    ap50, ap70 = bev_ap(det_frames, 0.5), bev_ap(det_frames, 0.7)
    ade, fde = traj.result()
    ade_cv, fde_cv = traj_cv.result()
    bpf = bytes_sent / max(n_agent_frames, 1)
    offset = np.median(displacements, axis=0) if displacements else np.full(2, np.nan)
    return {
        'mode': mode,
        'model_id': rt.model_id,
        'centre_votes': centre_votes,
        'heat_centres': heat_centres,
        'budget': enc.budget if codec == 'hlf-v1' and mode != 'late' else None,
        'frames': len(frames),
        # boxes some drone sees whose centre lies outside the region: not scored
        'gt_outside_region': outside,
        'ap50': ap50['mean'],
        'ap70': ap70['mean'],
        'iou': seg.iou,
        'pq': seg.pq,
        'ade': ade,
        'fde': fde,
        'ade_cv': ade_cv,
        'fde_cv': fde_cv,
        'trajectories': traj.count,
        'bytes_per_agent_frame': bpf,
        'log2_bytes': math.log2(bpf) if bpf > 0 else float('-inf'),
        'raw_bytes_per_agent_frame': raw_bytes / max(n_agent_frames, 1),
        # where the map puts objects against the world: median detection - truth (x, y)
        'centre_offset_m': float(np.hypot(*offset)),
        'centre_offset_xy': [float(offset[0]), float(offset[1])],
        'centre_offset_matches': len(displacements),
        # per frame: the map's own offset (median detection - truth of that frame), its size's
        # median over frames. Pose errors drawn anew every frame move the map a different way
        # each time, which the pooled median above averages away
        'frame_offset_m': float(np.median(frame_offsets)) if frame_offsets else float('nan'),
        'frame_offset_frames': len(frame_offsets),
        'alignment': corrections_summary(corrections) if align is not None else None,
        # with pose noise: how far the drones' maps put the ground, median over drone-frames
        'misplacement': ({'before': summarise_misplacement(misplaced['before']),
                          'after': summarise_misplacement(misplaced['after'])
                          if align is not None else None} if noisy else None),
        'per_class': {
            'ap50': ap50['per_class'],
            'ap70': ap70['per_class'],
            'gt_count': ap50['gt_count'],
        },
    }


def measure_misplacement(stamp_ns: int, views: list, fused, errors: FleetErrors,
                         reference: str | None, out: dict[str, list]) -> None:
    """Add each erring drone's ground misplacement before and after its correction to out."""
    moved = {c.agent: c.homography for c in fused.corrections}
    for v in views:
        if v.agent_id == reference:
            continue                                # exact by definition
        error = view_error(errors, stamp_ns, v.agent_id, reference)
        truth = v.cam_to_map if error is None else true_pose(v.cam_to_map, error)
        size = (v.image.shape[1], v.image.shape[0])
        before = misplacement(v.K, truth, v.cam_to_map, size, fused.grid)
        if before is None:
            continue
        out['before'].append(before)
        if v.agent_id in moved:
            out['after'].append(misplacement(v.K, truth, v.cam_to_map, size, fused.grid,
                                             moved[v.agent_id]))


def trajectory_pieces(rt: Runtime, mode: str, heads: TaskHeads
                      ) -> tuple[Tracker, TrajectoryPredictor, TrajectoryPredictor]:
    """Return the one tracker and the two predictors it feeds.

    The tracker takes boxes from the heads' score threshold on, as detection_node's
    track_threshold. The predictors: learned ('cv' for late fusion, which has no fused map) and
    constant velocity.
    """
    learned = TrajectoryPredictor(rt, 'cv' if mode == 'late' else 'learned')
    return Tracker(min_score=heads.score_threshold), learned, TrajectoryPredictor(rt, 'cv')


def matched_displacements(dets: list[ObjectState], gts: list[ObjectState]) -> list[np.ndarray]:
    """Return detection - truth (x, y) of the pairs matched by centre within OFFSET_RADIUS."""
    if not dets or not gts:
        return []
    D = np.array([[d.x, d.y] for d in dets])
    G = np.array([[g.x, g.y] for g in gts])
    cost = np.linalg.norm(D[:, None] - G[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return [D[r] - G[c] for r, c in zip(rows, cols) if cost[r, c] <= OFFSET_RADIUS]


def add_trajectories(
    outs,
    gts: list[ObjectState],
    frames: list[Frame],
    i: int,
    steps: int,
    dt: float,
    meter: TrajectoryMeter,
) -> None:
    """Match predicted tracks to ground truth by centre distance and add their future errors."""
    if not outs or not gts:
        return
    P = np.array([[s.x, s.y] for s, _ in outs])
    G = np.array([[g.x, g.y] for g in gts])
    cost = np.linalg.norm(P[:, None] - G[None], axis=2)
    rows, cols = linear_sum_assignment(cost)
    for r, c in zip(rows, cols):
        if cost[r, c] > MATCH_RADIUS:
            continue
        fut = future_positions(frames, i, gts[c].track_id, steps, dt)
        if fut is not None:
            meter.add(outs[r][1], fut)


def offset_sequences(sequences: list[list[Frame]], gap_ns: int = 1_000_000_000_000) -> list[Frame]:
    """Concatenate frame sequences (e.g. several bags).

    Stamps are shifted so each sequence starts after the last.
    """
    out, offset = [], 0
    for seq in sequences:
        if out and seq:
            offset = out[-1].stamp_ns + gap_ns - seq[0].stamp_ns
        for f in seq:
            out.append(Frame(len(out), f.stamp_ns + offset, f.views, f.objects))
    return out


def load_runtime(mode: str, weights: str | None, threads: int = 1) -> Runtime:
    """Return the runtime of a mode: absolute-depth defaults to the shipped LSS weights."""
    from rsdfm_core.model.weights import ABSDEPTH_WEIGHTS
    if mode == 'absolute-depth' and weights is None:
        if not ABSDEPTH_WEIGHTS.exists():
            raise FileNotFoundError(
                f'absolute-depth weights not shipped yet ({ABSDEPTH_WEIGHTS}); pass --weights'
            )
        weights = str(ABSDEPTH_WEIGHTS)
    return Runtime.load(weights, threads=threads)
