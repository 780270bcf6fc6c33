"""BEV segmentation metrics: vehicle IoU and panoptic quality of instances.

Both are accumulated over frames.
"""
from __future__ import annotations

import numpy as np


class LayerIoU:
    """Accumulates the IoU of a binary BEV layer over frames, on the cells that are scored."""

    def __init__(self) -> None:
        self.inter = self.union = 0

    def add(self, pred: np.ndarray, truth: np.ndarray, scored: np.ndarray | None = None) -> None:
        """Add one frame: predicted and true layers (R, W), cells to score (None: all)."""
        p, g = np.asarray(pred, bool), np.asarray(truth, bool)
        if scored is not None:
            p, g = p & scored, g & scored
        self.inter += int((p & g).sum())
        self.union += int((p | g).sum())

    @property
    def iou(self) -> float:
        return self.inter / self.union if self.union else float('nan')


class SegmentationMeter:
    """Accumulates semantic IoU (vehicle class) and PQ over frames.

    PQ matches instances at IoU > 0.5.
    """

    def __init__(self):
        self.inter = self.union = 0
        self.iou_sum = 0.0
        self.tp = self.fp = self.fn = 0

    def add(
        self, pred_sem: np.ndarray, pred_inst: np.ndarray, gt_sem: np.ndarray, gt_inst: np.ndarray
    ) -> None:
        p, g = pred_sem.astype(bool), gt_sem.astype(bool)
        self.inter += int((p & g).sum())
        self.union += int((p | g).sum())
        pid = [i for i in np.unique(pred_inst) if i != 0]
        gid = [i for i in np.unique(gt_inst) if i != 0]
        matched_p = set()
        for gi in gid:
            gm = gt_inst == gi
            cand = np.unique(pred_inst[gm])
            for pi in cand:
                if pi == 0 or pi in matched_p:
                    continue
                pm = pred_inst == pi
                iou = (gm & pm).sum() / (gm | pm).sum()
                if iou > 0.5:  # unique by construction: two instances cannot both exceed 0.5
                    self.tp += 1
                    self.iou_sum += float(iou)
                    matched_p.add(pi)
                    break
            else:
                self.fn += 1
        self.fp += len(pid) - len(matched_p)

    @property
    def iou(self) -> float:
        return self.inter / self.union if self.union else float('nan')

    @property
    def pq(self) -> float:
        d = self.tp + 0.5 * self.fp + 0.5 * self.fn
        return self.iou_sum / d if d else float('nan')
