"""BEV average precision with rotated-box IoU (shapely polygons), per class and mean."""
from __future__ import annotations

import numpy as np
import shapely

from rsdfm_core.types import LABELS, ObjectState


def box_polygons(boxes: np.ndarray) -> np.ndarray:
    """(N, 5) rows x, y, length, width, yaw -> N shapely footprint polygons."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    x, y, l, w, yaw = boxes.T
    c, s = np.cos(yaw), np.sin(yaw)
    dx = np.array([0.5, -0.5, -0.5, 0.5])[None] * l[:, None]
    dy = np.array([0.5, 0.5, -0.5, -0.5])[None] * w[:, None]
    px = x[:, None] + c[:, None] * dx - s[:, None] * dy
    py = y[:, None] + s[:, None] * dx + c[:, None] * dy
    return shapely.polygons(np.stack([px, py], -1))


def rotated_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of BEV footprints of boxes a (N, 5) and b (M, 5) (x, y, length, width, yaw)."""
    pa, pb = box_polygons(a), box_polygons(b)
    if len(pa) == 0 or len(pb) == 0:
        return np.zeros((len(pa), len(pb)))
    inter = shapely.area(shapely.intersection(pa[:, None], pb[None, :]))
    union = shapely.area(pa)[:, None] + shapely.area(pb)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def footprint_rows(objs: list[ObjectState]) -> np.ndarray:
    """Return the (N, 5) rows x, y, length, width, yaw that rotated_iou takes."""
    return np.array([[o.x, o.y, o.length, o.width, o.yaw] for o in objs]).reshape(-1, 5)


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int, interp: str = 'all') -> float:
    """AP from detections' scores and TP flags against n_gt ground truths.

    interp 'all': area under the monotone precision envelope (VOC 2010+); 'coco101': mean of the
    envelope at 101 recall points (COCO). nan when there is no ground truth.
    """
    if n_gt == 0:
        return float('nan')
    order = np.argsort(-np.asarray(scores), kind='stable')
    tp = np.asarray(tp, dtype=np.float64)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_gt
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    env = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    if interp == 'coco101':
        pts = np.linspace(0, 1, 101)
        idx = np.searchsorted(recall, pts, side='left')
        return float(np.mean([env[i] if i < len(env) else 0.0 for i in idx]))
    r = np.concatenate([[0.0], recall])
    return float(np.sum((r[1:] - r[:-1]) * env))


def match_frame(dets: list[ObjectState], gts: list[ObjectState], threshold: float) -> np.ndarray:
    """Match greedily by descending score.

    Each detection takes the best unmatched GT with IoU >= threshold.
    """
    tp = np.zeros(len(dets))
    if not dets or not gts:
        return tp
    order = np.argsort([-d.score for d in dets], kind='stable')
    iou = rotated_iou(footprint_rows([dets[i] for i in order]), footprint_rows(gts))
    taken = np.zeros(len(gts), bool)
    for k, i in enumerate(order):
        cand = np.where(~taken, iou[k], -1.0)
        j = int(np.argmax(cand))
        if cand[j] >= threshold:
            taken[j] = True
            tp[i] = 1
    return tp


def bev_ap(frames: list[tuple[list[ObjectState], list[ObjectState]]], threshold: float,
           labels: tuple[str, ...] = LABELS, interp: str = 'all') -> dict:
    """AP per class and the mean over classes that have ground truth.

    frames: [(detections, ground truths)] per frame.
    Returns {'mean': float, 'per_class': {label: ap}, 'gt_count': {label: n}}.
    """
    per_class, counts = {}, {}
    for label in labels:
        scores, tps, n_gt = [], [], 0
        for dets, gts in frames:
            d = [o for o in dets if o.label == label]
            g = [o for o in gts if o.label == label]
            n_gt += len(g)
            scores += [o.score for o in d]
            tps += list(match_frame(d, g, threshold))
        per_class[label] = average_precision(np.array(scores), np.array(tps), n_gt, interp)
        counts[label] = n_gt
    valid = [v for v in per_class.values() if not np.isnan(v)]
    return {
        'mean': float(np.mean(valid)) if valid else float('nan'),
        'per_class': per_class,
        'gt_count': counts,
    }
