"""Height targets from boxes alone (what a bag gives).

Rays into boxes and onto the ground, checked against the simulator's dense heights.
"""
import numpy as np
import pytest

from rsdfm_core.geometry import look_at_optical
from rsdfm_core.model.config import load_config
from rsdfm_core.training.box_heights import box_height_depth, ray_box_entry
from rsdfm_core.training.dataset import frame_arrays
from rsdfm_core.types import ObjectState
from rsdfm_core.world import Simulator, WorldConfig

CAR = ObjectState(1, 'car', 0.0, 0.0, 0.75, 4.0, 2.0, 1.5, 0.3)


def test_a_ray_enters_a_box_at_its_top_or_side():
    down = np.array([[0.0, 0.0, -1.0]])
    assert ray_box_entry(np.array([0.0, 0.0, 50.0]), down, [CAR])[0] == pytest.approx(48.5)
    side = np.array([[1.0, 0.0, 0.0]])                # along x at 1 m, into the rotated box
    t = ray_box_entry(np.array([-10.0, 0.0, 1.0]), side, [CAR])[0]
    c, s = np.cos(0.3), np.sin(0.3)
    half_extent = min(2.0 / c, 1.0 / s)               # x where the ray meets the rotated box
    assert t == pytest.approx(10.0 - half_extent, abs=1e-9)
    assert np.isinf(ray_box_entry(np.array([0.0, 10.0, 1.0]), side, [CAR])[0])
    inside = ray_box_entry(np.array([0.0, 0.0, 0.5]), down, [CAR])[0]
    assert inside == 0.0                              # a camera inside a box sees it at once


def test_box_heights_over_a_nadir_view():
    K = np.array([[400.0, 0, 40], [0, 400.0, 40], [0, 0, 1]])   # the car: 27 x 14 px
    pose = look_at_optical(np.array([0.0, 0.0, 60.0]), np.array([0.0, 0.001, 0.0]))
    height, depth = box_height_depth(K, pose, [CAR], (80, 80), 4)
    assert height.shape == (20, 20)
    centre = height[9:11, 9:11]
    assert np.allclose(centre, 1.5, atol=1e-4)        # the roof
    assert np.allclose(depth[9:11, 9:11], 58.5, atol=1e-3)
    assert height[0, 0] == 0.0 and depth[0, 0] == pytest.approx(60.0, abs=1e-3)
    sky = look_at_optical(np.array([0.0, 0.0, 60.0]), np.array([100.0, 0.0, 80.0]))
    h_sky, d_sky = box_height_depth(K, sky, [CAR], (80, 80), 4)
    assert np.isinf(h_sky).all() and np.isinf(d_sky).all()


def test_box_targets_agree_with_the_dense_ones_on_vehicles():
    cfg = load_config(None)['model']
    frame = next(iter(Simulator(WorldConfig(seed=900)).frames(1)))
    dense, boxes = frame_arrays(frame, cfg), frame_arrays(frame, cfg, 'boxes')
    stride = cfg['feat_stride'] * frame.views[0].image.shape[1] // cfg['image_size'][0]
    hf, wf = dense['hbin'].shape[1:]
    on_vehicle = np.stack([v.instance[stride // 2::stride, stride // 2::stride][:hf, :wf] > 0
                           for v in frame.views])
    assert on_vehicle.sum() > 200
    a, b = dense['hbin'][on_vehicle].astype(int), boxes['hbin'][on_vehicle].astype(int)
    assert (np.abs(a - b) <= 1).mean() > 0.95         # within one height bin (box vs mesh)
    assert (boxes['hbin'] >= 0).all()                 # every pixel has a target, sky aside
