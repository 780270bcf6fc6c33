"""The simulator's contract: frames, stamps, fleet, traffic, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from rsdfm_core.types import LABELS
from rsdfm_core.world import Simulator, WorldConfig

SMALL = {'width': 160, 'height': 120}


@pytest.fixture(scope='module')
def sim_frames():
    sim = Simulator(WorldConfig(seed=5, drones=3, **SMALL))
    return sim, list(sim.frames(3))


def test_frame_layout_and_stamps(sim_frames):
    sim, frames = sim_frames
    cfg = sim.config
    for k, f in enumerate(frames):
        assert f.index == k
        assert f.stamp_ns == cfg.start_ns + k * 100_000_000
        assert [v.agent_id for v in f.views] == ['uav1', 'uav2', 'uav3']
        for v in f.views:
            assert v.image.shape == (120, 160, 3) and v.image.dtype == np.uint8
            assert (
                v.depth.dtype == np.float32
                and v.height.dtype == np.float32
                and v.instance.dtype == np.uint16
            )
            np.testing.assert_allclose(
                v.cam_to_map[:3, :3] @ v.cam_to_map[:3, :3].T, np.eye(3), atol=1e-9
            )
            lo, hi = cfg.altitude
            assert lo <= v.cam_to_map[2, 3] <= hi


def test_objects_are_vehicles_on_the_ground_with_stable_ids(sim_frames):
    _, frames = sim_frames
    ids0 = [o.track_id for o in frames[0].objects]
    assert min(ids0) >= 1 and len(set(ids0)) == len(ids0)
    for f in frames:
        assert [o.track_id for o in f.objects] == ids0
        for o in f.objects:
            assert o.label in LABELS
            assert o.z == pytest.approx(o.height / 2)
    in_region = [o for o in frames[0].objects if abs(o.x) <= 64 and abs(o.y) <= 64]
    assert 20 <= len(in_region) <= 70
    assert {o.label for o in frames[0].objects} == set(LABELS)


def test_views_overlap_in_part():
    sim = Simulator(WorldConfig(seed=2, drones=4, **SMALL))
    f = sim.step()
    seen = [set(np.unique(v.instance).tolist()) - {0} for v in f.views]
    union = set().union(*seen)
    assert all(len(s) < len(union) for s in seen)          # together they see more than any one
    assert any(seen[i] & seen[j] for i in range(4) for j in range(i + 1, 4))


def test_traffic_moves_stops_and_starts():
    sim = Simulator(WorldConfig(seed=1, drones=1, **SMALL))
    tr = sim.traffic
    n = tr.n_moving
    speeds, xy0 = [], tr.poses()[0][:n].copy()
    for _ in range(300):                                     # 30 s of traffic, no rendering
        tr.advance(0.1)
        speeds.append(tr.v.copy())
    speeds = np.array(speeds)
    moved = np.linalg.norm(tr.poses()[0][:n] - xy0, axis=1)
    assert np.median(moved) > 30.0
    stopped_then_went = ((speeds < 0.1).any(0) & (speeds[-1] > 1.0)) | \
        ((speeds < 0.1).any(0) & (speeds.argmax(0) > (speeds < 0.1).argmax(0)))
    assert stopped_then_went.sum() >= 3
    assert np.all(speeds <= tr.vmax[:n] + 1e-9)
    yaw = tr.poses()[1][:n]
    assert np.unique(np.round(yaw / (np.pi / 2)) % 4).size == 4  # traffic in all four directions


def test_same_seed_same_frames_different_seed_different_scene():
    a = Simulator(WorldConfig(seed=7, drones=2, **SMALL)).step()
    b = Simulator(WorldConfig(seed=7, drones=2, **SMALL)).step()
    c = Simulator(WorldConfig(seed=8, drones=2, **SMALL)).step()
    for va, vb in zip(a.views, b.views):
        assert np.array_equal(va.image, vb.image) and np.array_equal(va.cam_to_map, vb.cam_to_map)
    assert a.objects == b.objects
    assert not np.array_equal(a.views[0].image, c.views[0].image)
    assert [(o.x, o.y) for o in a.objects] != [(o.x, o.y) for o in c.objects]


@pytest.mark.parametrize(
    'kwargs, word',
    [
        ({'drones': 0}, 'drones'),
        ({'drones': 9}, 'drones'),
        ({'altitude': (80.0, 50.0)}, 'altitude'),
        ({'pitch': (60.0, 30.0)}, 'pitch'),
        ({'altitude': (20.0, 60.0)}, 'tallest building'),
    ],
)
def test_bad_config_is_refused_by_name(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Simulator(WorldConfig(**SMALL, **kwargs))


def test_no_dense_gt_leaves_the_images_out():
    f = Simulator(WorldConfig(seed=0, drones=1, dense_gt=False, **SMALL)).step()
    assert f.views[0].depth is None and f.views[0].instance is None and f.views[0].height is None


def test_sky_above_the_horizon_has_no_depth_height_or_instance():
    f = Simulator(
        WorldConfig(seed=4, drones=1, pitch=(8.0, 10.0), altitude=(45.0, 50.0), **SMALL)
    ).step()
    v = f.views[0]
    sky = np.isinf(v.depth)
    assert 0.05 < sky.mean() < 0.6
    assert sky[0].all() and not sky[-1].any()                  # sky on top, ground at the bottom
    assert not v.height[sky].any() and not v.instance[sky].any()
    assert v.image[sky][:, 2].mean() > v.image[sky][:, 0].mean()   # bluish
