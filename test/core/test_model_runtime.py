"""Runtime API used by the ROS nodes: shapes, any input size, FusedMap bytes, tracker ids."""
import numpy as np
import pytest
import torch

from rsdfm_core.geometry import intrinsics, look_at_optical
from rsdfm_core.model.payload import fused_payload_size
from rsdfm_core.model.runtime import (
    DroneEncoder,
    fused_from_payload,
    fused_to_payload,
    FusionDecoder,
    PayloadError,
    Runtime,
    TaskHeads,
)
from rsdfm_core.model.tracker import constant_velocity, Tracker
from rsdfm_core.types import LABELS, ObjectState

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def rt():
    return Runtime.load(threads=1)


def _view(w, h, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.random((h, w, 3)) * 255).astype(np.uint8), intrinsics(w, h, 60.0),
            look_at_optical(np.array([-60.0, 10.0, 70.0]), np.array([0.0, 0.0, 0.0])))


def test_encode_any_image_size_gives_the_same_map_for_a_scaled_camera(rt):
    enc = DroneEncoder(rt)
    img, K, T = _view(640, 480)
    import cv2
    small = cv2.resize(img, (320, 240), interpolation=cv2.INTER_AREA)
    Ks = np.diag([0.5, 0.5, 1.0]) @ K
    a, va = enc.bev(img, K, T)
    b, vb = enc.bev(small, Ks, T)
    assert torch.equal(va, vb)
    assert torch.allclose(a, b, atol=1e-4)
    m = enc.encode(img, K, T)
    assert (
        m.codec == 'hlf-v1'
        and m.channels == rt.config['model']['img_channels']
        and len(m.payload) == enc.payload_size()
    )


def test_bad_inputs_are_refused_clearly(rt):
    enc = DroneEncoder(rt)
    img, K, T = _view(64, 48)
    with pytest.raises(ValueError, match='uint8'):
        enc.encode(img.astype(np.float32), K, T)
    with pytest.raises(ValueError, match='4x4'):
        enc.encode(img, K, T[:3])
    with pytest.raises(ValueError, match='no maps'):
        FusionDecoder(rt).fuse([])


def test_fused_map_bytes_round_trip_and_size_check(rt):
    enc, fus = DroneEncoder(rt), FusionDecoder(rt)
    maps = [(enc.encode(*_view(640, 480, s)), f'uav{s}') for s in (1, 2)]
    f = fus.fuse(maps)
    assert f.features.dtype == np.float16 and f.agents == ['uav1', 'uav2']
    assert f.features.shape == (
        rt.config['model']['fused_channels'],
        rt.region.rows,
        rt.region.cols,
    )
    data = fused_to_payload(f)
    assert len(data) == fused_payload_size(*f.features.shape)
    g = fused_from_payload(f.grid, f.features.shape[0], data, f.agents)
    assert np.array_equal(g.features, f.features)
    with pytest.raises(PayloadError, match='expected'):
        fused_from_payload(f.grid, f.features.shape[0], data[:-2])
    dets = TaskHeads(rt).detect(g, threshold=0.0)
    assert all(d.label in LABELS and 0 <= d.score <= 1 for d in dets)
    sem, inst = TaskHeads(rt).segment(g)
    assert sem.shape == inst.shape == (rt.region.rows, rt.region.cols) and inst.dtype == np.uint16
    assert set(np.unique(sem)) <= {0, 1}


def test_tracker_keeps_ids_and_estimates_velocity():
    tr = Tracker(gate=3.0, min_score=0.0)
    ids = None
    for k in range(6):
        t = 0.1 * k
        dets = [
            ObjectState(0, 'car', 10.0 + 5.0 * t, 0.0, 0.75, 4.5, 1.9, 1.5, 0.0, score=0.9),
            ObjectState(
                0, 'bus', -20.0, 5.0 - 2.0 * t, 1.5, 11.0, 2.5, 3.0, -np.pi / 2, score=0.8
            ),
        ]
        out = tr.update(t, dets)
        now = sorted((o.state.label, o.track_id) for o in out)
        ids = ids or now
        assert now == ids
    car = next(o for o in out if o.state.label == 'car')
    assert car.state.vx == pytest.approx(5.0, abs=1e-6) and car.state.vy == pytest.approx(
        0.0, abs=1e-6
    )
    fut = constant_velocity(car.state)
    assert fut.shape == (6, 3) and fut[-1, 0] == pytest.approx(car.state.x + 15.0)


def test_input_grows_above_the_training_altitude_only(rt):
    enc = DroneEncoder(rt)
    top = rt.config['model']['train_altitude_max']
    assert enc.input_size(640, 480, top) == rt.image_size
    w, h = enc.input_size(640, 480, 1.5 * top)
    assert (
        rt.image_size[0] < w <= 640 and rt.image_size[1] < h <= 480 and w % 16 == 0 and h % 16 == 0
    )
    assert enc.input_size(640, 480, 10 * top) == (640, 480)  # capped at the source resolution
    assert DroneEncoder(rt, altitude_scaling=False).input_size(640, 480, 2 * top) == rt.image_size
    img, K, T = _view(640, 480)
    T = T.copy()
    T[2, 3] = 1.6 * top
    x, valid = enc.bev(img, K, T)
    assert x.shape[-2:] == (rt.region.rows, rt.region.cols) and bool(valid.any())
