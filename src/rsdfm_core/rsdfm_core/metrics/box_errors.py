"""Why a found box misses IoU 0.7: its error split into centre, size and heading.

AP@0.5 and AP@0.7 say how many boxes overlap their vehicle enough, not what is wrong with the
rest. Each detection is paired with the ground truth it overlaps most (Hungarian assignment on
rotated IoU, per class); for a pair found at IoU >= 0.5 the error is measured in the true box's
frame (centre along and across the vehicle, length, width, heading modulo 180 degrees), and the
IoU is computed again with one part made exact. The share of the pairs below 0.7 that one exact
part lifts to 0.7 says which part the boxes lack.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from rsdfm_core.metrics.detection import footprint_rows, rotated_iou
from rsdfm_core.types import LABELS, ObjectState

PARTS = ('centre', 'size', 'heading')


def matched_pairs(dets: list[ObjectState], gts: list[ObjectState],
                  min_iou: float = 0.5) -> list[tuple[ObjectState, ObjectState, float]]:
    """Return (detection, truth, IoU) of one class, assigned for most overlap, IoU >= min_iou."""
    if not dets or not gts:
        return []
    iou = rotated_iou(footprint_rows(dets), footprint_rows(gts))
    rows, cols = linear_sum_assignment(-iou)
    return [(dets[i], gts[j], float(iou[i, j])) for i, j in zip(rows, cols)
            if iou[i, j] >= min_iou]


def heading_error(det_yaw: float, gt_yaw: float) -> float:
    """Return the heading error in radians, in [-pi/2, pi/2): a box turned by pi is the same."""
    return (det_yaw - gt_yaw + math.pi / 2) % math.pi - math.pi / 2


def box_error(det: ObjectState, gt: ObjectState) -> dict[str, float]:
    """Return a pair's errors (m, rad) and its IoU with each part made exact."""
    c, s = math.cos(gt.yaw), math.sin(gt.yaw)
    dx, dy = det.x - gt.x, det.y - gt.y
    exact = {
        'centre': [gt.x, gt.y, det.length, det.width, det.yaw],
        'size': [det.x, det.y, gt.length, gt.width, det.yaw],
        'heading': [det.x, det.y, det.length, det.width, gt.yaw],
    }
    ious = rotated_iou(np.array(list(exact.values())), footprint_rows([gt]))[:, 0]
    return {
        'along_m': c * dx + s * dy, 'across_m': -s * dx + c * dy,
        'length_m': det.length - gt.length, 'width_m': det.width - gt.width,
        'heading_rad': heading_error(det.yaw, gt.yaw),
        **{f'iou_exact_{part}': float(v) for part, v in zip(exact, ious)},
    }


def summarise_box_errors(frames: list[tuple[list[ObjectState], list[ObjectState]]],
                         min_score: float = 0.3, found_iou: float = 0.5,
                         strict_iou: float = 0.7,
                         labels: tuple[str, ...] = LABELS) -> dict[str, dict]:
    """Per class: pairs found, the share at strict_iou, what lifts the rest, median errors.

    frames: [(detections, ground truths)] per frame, as the evaluation keeps them; detections
    below min_score (what the detection node shows) are left out.
    """
    out = {}
    for label in labels:
        errors, ious = [], []
        for dets, gts in frames:
            pairs = matched_pairs([d for d in dets if d.label == label and d.score >= min_score],
                                  [g for g in gts if g.label == label], found_iou)
            for det, gt, iou in pairs:
                errors.append(box_error(det, gt))
                ious.append(iou)
        if not errors:
            continue
        ious = np.array(ious)
        short = [e for e, iou in zip(errors, ious) if iou < strict_iou]

        def median_abs(key: str) -> float:
            return float(np.median(np.abs([e[key] for e in errors])))

        out[label] = {
            'found': len(errors),
            'share_strict': float(np.mean(ious >= strict_iou)),
            'short': len(short),
            'lifted_by_exact': {part: (float(np.mean([e[f'iou_exact_{part}'] >= strict_iou
                                                      for e in short])) if short else 0.0)
                                for part in PARTS},
            'median_abs': {'along_m': median_abs('along_m'), 'across_m': median_abs('across_m'),
                           'length_m': median_abs('length_m'), 'width_m': median_abs('width_m'),
                           'heading_deg': math.degrees(median_abs('heading_rad'))},
            'median_signed': {k: float(np.median([e[k] for e in errors]))
                              for k in ('along_m', 'across_m', 'length_m', 'width_m')},
        }
    return out
