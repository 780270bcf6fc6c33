"""Trajectories of already tracked objects: ids kept, untracked boxes left out.

Constant velocity and the learned head read at the object's cell, past maps from history; the
detection_node tracking rule used offline.
"""
import math

import numpy as np
import pytest
import torch

from rsdfm_core.geometry import BevGrid
from rsdfm_core.model.runtime import FusedMap, Runtime
from rsdfm_core.model.tracker import Tracker
from rsdfm_core.model.trajectory import track_detections, TrajectoryPredictor
from rsdfm_core.types import ObjectState

torch.set_num_threads(1)
S = 1_000_000_000


@pytest.fixture(scope='module')
def rt():
    return Runtime.load(threads=1)


def _map(rt, grid=None, seed=None):
    grid = grid or rt.region
    shape = (rt.config['model']['fused_channels'], grid.rows, grid.cols)
    feats = np.zeros(shape) if seed is None else np.random.default_rng(seed).normal(size=shape)
    return FusedMap(feats.astype(np.float16), grid)


def _car(track_id, x, y, vx=0.0, vy=0.0, score=0.9):
    return ObjectState(track_id, 'car', x, y, 0.75, 4.5, 1.9, 1.5, 0.0, vx, vy, score)


def test_only_tracked_objects_get_trajectories_with_their_own_ids(rt):
    objects = [_car(9, 3.0, -4.0), _car(0, 10.0, 10.0), _car(4, -8.0, 2.0)]
    for mode in ('learned', 'cv'):
        out = TrajectoryPredictor(rt, mode).predict(S, _map(rt), objects)
        assert [o.track_id for o, _ in out] == [4, 9]
        assert all(pts.shape == (6, 3) and np.isfinite(pts).all() for _, pts in out)
        assert out[1][0] is objects[0]                 # the given object, not a copy of a track
    assert TrajectoryPredictor(rt).predict(S, _map(rt), [_car(0, 1.0, 1.0)]) == []


def test_constant_velocity_uses_the_objects_velocity_and_needs_no_map(rt):
    pred = TrajectoryPredictor(rt, 'cv')
    (obj, pts), = pred.predict(S, None, [_car(3, 1.0, 2.0, vx=4.0, vy=-2.0)])
    t = 0.5 * np.arange(1, 7)
    assert np.allclose(pts, np.stack([1.0 + 4.0 * t, 2.0 - 2.0 * t, np.full(6, 0.75)], 1))
    with pytest.raises(ValueError, match='needs the fused map'):
        TrajectoryPredictor(rt, 'learned').predict(S, None, [obj])
    with pytest.raises(ValueError, match="'learned' or 'cv'"):
        TrajectoryPredictor(rt, 'kalman')


def test_learned_points_are_the_head_offsets_at_the_object_cell_in_map_axes(rt):
    g0 = rt.region
    grid = BevGrid.centred(5.0, -3.0, g0.cols * g0.resolution, g0.rows * g0.resolution,
                           g0.resolution, yaw=0.6)
    f = _map(rt, grid, seed=1)
    r, c = grid.rows // 3, grid.cols // 2
    x, y = grid.cell_centres()[r, c]
    pred = TrajectoryPredictor(rt)
    off = pred.offsets(2.0, f)[:, r, c].numpy().reshape(6, 2)    # before predict adds history
    (_, pts), = pred.predict(2 * S, f, [_car(1, float(x), float(y))])
    co, si = math.cos(0.6), math.sin(0.6)
    expected = np.stack([x + co * off[:, 0] - si * off[:, 1],
                         y + si * off[:, 0] + co * off[:, 1]], 1)
    assert np.allclose(pts[:, :2], expected, atol=1e-4)
    assert np.allclose(pts[:, 2], 0.75)


def test_every_given_map_becomes_history_even_with_nothing_tracked(rt):
    past, now = _map(rt, seed=2), _map(rt, seed=3)
    obj = _car(5, 3.0, -4.0)
    with_history = TrajectoryPredictor(rt)
    assert with_history.predict(S, past, [_car(0, 3.0, -4.0)]) == []
    (_, a), = with_history.predict(S + S // 5, now, [obj])
    (_, b), = TrajectoryPredictor(rt).predict(S + S // 5, now, [obj])
    assert not np.allclose(a, b, atol=1e-4), 'the past map did not reach the learned head'
    assert len(with_history.history) == 2


def test_track_detections_gives_ids_and_track_velocity_to_tracked_boxes_only():
    tracker = Tracker(min_score=0.3)
    ids = []
    for k in range(4):
        t = 0.1 * k
        boxes = [_car(0, 10.0 + 5.0 * t, 0.0, vx=9.0, score=0.9),
                 _car(0, -20.0, 5.0 - 2.0 * t, vy=-7.0, score=0.6),
                 _car(0, 40.0, 40.0, vx=3.0, score=0.1)]
        out = track_detections(tracker, S + int(t * S), boxes)
        assert out is boxes
        ids.append([o.track_id for o in out])
    assert ids[0][0] > 0 and ids[0][1] > 0 and ids[0][0] != ids[0][1] and ids[0][2] == 0
    assert all(row == ids[0] for row in ids)
    assert (out[0].vx, out[0].vy) == pytest.approx((5.0, 0.0))      # the track's, not the head's
    assert (out[1].vx, out[1].vy) == pytest.approx((0.0, -2.0))
    assert (out[2].vx, out[2].vy) == (3.0, 0.0)                      # untracked: the head's


def test_a_weak_box_of_another_class_at_a_tracked_centre_stays_untracked():
    tracker = Tracker(min_score=0.3)
    car = _car(0, 5.0, 5.0, score=0.8)
    bus = ObjectState(0, 'bus', 5.0, 5.0, 1.5, 11.0, 2.5, 3.0, 0.0, score=0.2)
    track_detections(tracker, S, [car, bus])
    assert car.track_id > 0 and bus.track_id == 0
