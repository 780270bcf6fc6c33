"""Box errors by part, in the true box's frame, and which exact part lifts a box to IoU 0.7."""
from __future__ import annotations

import math

import pytest

from rsdfm_core.metrics.box_errors import box_error, heading_error, summarise_box_errors
from rsdfm_core.types import ObjectState


def car(x=0.0, y=0.0, yaw=0.0, length=4.5, width=1.8, score=1.0, track_id=1) -> ObjectState:
    return ObjectState(track_id, 'car', x, y, 0.75, length, width, 1.5, yaw, score=score)


def test_heading_error_treats_a_box_turned_by_half_a_turn_as_the_same():
    assert heading_error(math.pi, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert heading_error(0.1, math.pi) == pytest.approx(0.1)
    assert heading_error(-0.2, 0.0) == pytest.approx(-0.2)


def test_errors_are_along_and_across_the_true_vehicle():
    gt = car(10.0, 5.0, yaw=math.pi / 2)            # the vehicle points along map +y
    e = box_error(car(10.2, 5.9, yaw=math.pi / 2, length=4.0), gt)
    assert e['along_m'] == pytest.approx(0.9) and e['across_m'] == pytest.approx(-0.2)
    assert e['length_m'] == pytest.approx(-0.5) and e['width_m'] == pytest.approx(0.0)
    assert e['heading_rad'] == pytest.approx(0.0)
    assert e['iou_exact_centre'] == pytest.approx(4.0 / 4.5)     # only the length is left wrong
    assert e['iou_exact_size'] < 0.9 and e['iou_exact_heading'] < 0.9


def test_summary_says_which_part_lifts_the_boxes_below_the_strict_iou():
    exact, shifted = car(0.0, 0.0), car(0.0, 20.0, track_id=2)
    frames = [([car(0.0, 0.0, score=0.9), car(0.0, 20.5, score=0.8),
                car(30.0, 0.0, score=0.1)],          # a box below min_score is not shown
               [exact, shifted])]
    s = summarise_box_errors(frames, min_score=0.3)['car']
    assert s['found'] == 2 and s['share_strict'] == pytest.approx(0.5) and s['short'] == 1
    assert s['lifted_by_exact'] == {'centre': 1.0, 'size': 0.0, 'heading': 0.0}
    assert s['median_abs']['across_m'] == pytest.approx(0.25)
    assert 'truck' not in summarise_box_errors(frames)       # no pairs, no row


def test_the_evaluation_hands_out_the_detections_it_scored():
    from rsdfm_core.metrics.detection import bev_ap
    from rsdfm_core.model.runtime import Runtime
    from rsdfm_core.training.evaluate import evaluate_frames
    from rsdfm_core.world import Simulator, WorldConfig

    frames = list(Simulator(WorldConfig(seed=31, drones=2)).frames(2))
    pairs: list = []
    res = evaluate_frames(frames, Runtime.load(None, threads=1), progress=False,
                          detections_out=pairs)
    assert len(pairs) == 2 and all(gts for _, gts in pairs)
    assert bev_ap(pairs, 0.5)['mean'] == pytest.approx(res['ap50'], nan_ok=True)
    assert bev_ap(pairs, 0.7)['mean'] == pytest.approx(res['ap70'], nan_ok=True)
