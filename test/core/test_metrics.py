"""Metrics on hand-built cases with known answers, and AP agreement with pycocotools.

pycocotools is reached through torchmetrics.
"""
import math

import numpy as np
import pytest
import torch

from rsdfm_core.metrics.detection import average_precision, bev_ap, rotated_iou
from rsdfm_core.metrics.segmentation import SegmentationMeter
from rsdfm_core.metrics.trajectory import TrajectoryMeter
from rsdfm_core.types import ObjectState

torch.set_num_threads(1)


def box(x, y, length=4.0, w=2.0, yaw=0.0, label='car', score=1.0):
    return ObjectState(0, label, x, y, 0.75, length, w, 1.5, yaw, score=score)


def test_rotated_iou_known_values():
    a = np.array([[0, 0, 4, 2, 0.0]])
    assert rotated_iou(a, a)[0, 0] == pytest.approx(1.0)
    assert rotated_iou(a, np.array([[2, 0, 4, 2, 0.0]]))[0, 0] == pytest.approx(
        4 / 12
    )  # half overlap
    assert rotated_iou(a, np.array([[0, 0, 4, 2, math.pi / 2]]))[0, 0] == pytest.approx(
        4 / 12
    )  # cross
    assert rotated_iou(a, np.array([[0, 0, 4, 2, math.pi]]))[0, 0] == pytest.approx(
        1.0
    )  # heading flip
    assert rotated_iou(a, np.array([[10, 0, 4, 2, 0.0]]))[0, 0] == 0.0
    sq = np.array([[0, 0, 2, 2, 0.0]])
    # a square turned 45 degrees: octagon overlap = 4 - 4 * corner triangle
    t = (math.sqrt(2) - 1)
    inter = 4 - 4 * (t * t / 2) * 2 / 2 * 2
    assert rotated_iou(sq, np.array([[0, 0, 2, 2, math.pi / 4]]))[0, 0] == pytest.approx(
        inter / (8 - inter), rel=1e-6
    )


def test_average_precision_known_answer():
    # two ground truths; detections: TP (0.9), FP (0.8), TP (0.7)
    ap = average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]), 2)
    assert ap == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 3))
    assert average_precision(np.array([0.9]), np.array([1]), 2) == pytest.approx(0.5)
    assert average_precision(np.array([]), np.array([]), 3) == 0.0
    assert math.isnan(average_precision(np.array([0.5]), np.array([0]), 0))


def test_bev_ap_matching_and_thresholds():
    gts = [box(0, 0), box(10, 0, label='bus', length=10, w=2.5)]
    dets = [
        box(0.5, 0, score=0.9),  # IoU 3.5*2/(8+8-7) = 7/9 = 0.78 -> TP at .5 and .7
        box(0.0, 0.2, score=0.5),  # duplicate of the same car -> FP
        box(12, 0, label='bus', length=10, w=2.5, score=0.8),
    ]   # bus IoU 8*2.5 / (25+25-20) = 0.667
    r50 = bev_ap([(dets, gts)], 0.5)
    r70 = bev_ap([(dets, gts)], 0.7)
    assert r50['per_class']['car'] == pytest.approx(1.0)
    assert r50['per_class']['bus'] == pytest.approx(1.0)
    assert r70['per_class']['bus'] == pytest.approx(0.0)
    assert r70['per_class']['car'] == pytest.approx(1.0)
    assert math.isnan(r50['per_class']['truck'])
    assert r70['mean'] == pytest.approx(0.5)
    assert r50['gt_count'] == {'car': 1, 'truck': 0, 'bus': 1}


def test_bev_ap_agrees_with_pycocotools_on_axis_aligned_boxes():
    pytest.importorskip('pycocotools')
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    rng = np.random.default_rng(7)
    frames = []
    images, anns, dets_json = [], [], []
    lab = {'car': 1, 'truck': 2}
    for f in range(6):
        n = rng.integers(3, 9)
        gts = [box(*rng.uniform(-40, 40, 2), length=rng.uniform(3, 6), w=rng.uniform(1.5, 2.5),
                   label=['car', 'truck'][int(rng.integers(0, 2))]) for _ in range(n)]
        dets = []
        for g in gts:
            if rng.random() < 0.8:
                dets.append(
                    box(
                        g.x + rng.normal(0, 0.5),
                        g.y + rng.normal(0, 0.3),
                        g.length * rng.uniform(0.8, 1.2),
                        g.width * rng.uniform(0.8, 1.2),
                        label=g.label,
                        score=float(rng.uniform(0.2, 1)),
                    )
                )
        for _ in range(rng.integers(0, 4)):
            dets.append(
                box(*rng.uniform(-40, 40, 2), label='car', score=float(rng.uniform(0, 0.8)))
            )
        frames.append((dets, gts))

        def xywh(b):   # shift to positive image coordinates; COCO boxes are (x, y, w, h)
            return [b.x - b.length / 2 + 100, b.y - b.width / 2 + 100, b.length, b.width]
        images.append({'id': f, 'width': 200, 'height': 200})
        for g in gts:
            anns.append(
                {
                    'id': len(anns) + 1,
                    'image_id': f,
                    'category_id': lab[g.label],
                    'bbox': xywh(g),
                    'area': g.length * g.width,
                    'iscrowd': 0,
                }
            )
        for d in dets:
            dets_json.append(
                {'image_id': f, 'category_id': lab[d.label], 'bbox': xywh(d), 'score': d.score}
            )
    gt_api = COCO()
    gt_api.dataset = {'images': images, 'annotations': anns,
                      'categories': [{'id': 1, 'name': 'car'}, {'id': 2, 'name': 'truck'}]}
    gt_api.createIndex()
    ev = COCOeval(gt_api, gt_api.loadRes(dets_json), 'bbox')
    ev.params.iouThrs = np.array([0.5])
    ev.params.areaRng = [[0, 1e10]]
    ev.params.areaRngLbl = ['all']
    ev.params.maxDets = [100]
    ev.evaluate()
    ev.accumulate()
    prec = ev.eval['precision'][0, :, :, 0, 0]          # (recall points, classes)
    ref = prec.mean(0)
    ours = bev_ap(frames, 0.5, labels=('car', 'truck'), interp='coco101')
    np.testing.assert_allclose(
        [ours['per_class']['car'], ours['per_class']['truck']], ref, atol=1e-6
    )


def test_segmentation_iou_and_pq_known_answers():
    gt_inst = np.zeros((8, 8), np.uint16)
    gt_inst[1:3, 1:3] = 1
    gt_inst[5:7, 5:8] = 2
    m = SegmentationMeter()
    m.add(gt_inst > 0, gt_inst, gt_inst > 0, gt_inst)
    assert m.iou == 1.0 and m.pq == 1.0
    pred = np.zeros_like(gt_inst)
    pred[1:3, 1:2] = 4                              # half of object 1 -> IoU 0.5, not a match
    m = SegmentationMeter()
    m.add(pred > 0, pred, gt_inst > 0, gt_inst)
    assert m.iou == pytest.approx(2 / 10)
    assert m.pq == 0.0 and (m.tp, m.fp, m.fn) == (0, 1, 2)
    pred = gt_inst.copy()
    pred[6, 7] = 0                                  # object 2 at IoU 5/6, object 1 exact
    m = SegmentationMeter()
    m.add(pred > 0, pred, gt_inst > 0, gt_inst)
    assert m.pq == pytest.approx((1 + 5 / 6) / 2)


def test_trajectory_ade_fde():
    m = TrajectoryMeter(dt=0.5)
    gt = np.zeros((6, 3))
    pred = np.zeros((6, 3))
    pred[:, 0] = np.arange(1, 7)                    # error k at step k
    m.add(pred, gt)
    ade, fde = m.result()
    assert ade['1s'] == pytest.approx(1.5) and fde['1s'] == pytest.approx(2.0)
    assert ade['3s'] == pytest.approx(3.5) and fde['3s'] == pytest.approx(6.0)
