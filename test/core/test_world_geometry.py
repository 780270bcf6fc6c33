"""The rendered dense ground truth agrees with projective geometry.

The pose and K used are those read back from the bag.
"""
from __future__ import annotations

import numpy as np
import pytest

from rsdfm_core.bag import read_frames, write_bag
from rsdfm_core.geometry import project_points, ray_ground_depth
from rsdfm_core.world import Simulator, WorldConfig


@pytest.fixture(scope='module')
def frames_from_bag(tmp_path_factory):
    sim = Simulator(WorldConfig(seed=11, drones=3, width=320, height=240))
    bag = write_bag(tmp_path_factory.mktemp('geo') / 'bag', sim.frames(3))
    return list(read_frames(bag))


def test_visible_box_tops_project_onto_their_instance(frames_from_bag):
    checked = 0
    for frame in frames_from_bag:
        for view in frame.views:
            h, w = view.instance.shape
            tops = np.array([[o.x, o.y, o.height] for o in frame.objects])
            uv, z = project_points(view.K, view.cam_to_map, tops)
            for o, (u, v), zz in zip(frame.objects, uv, z):
                if not (np.isfinite(u) and 0 <= u < w and 0 <= v < h):
                    continue
                r, c = int(v), int(u)
                if abs(view.depth[r, c] - zz) > 0.02 * zz + 0.3:
                    continue  # something stands in front of the box top: not visible
                assert view.instance[r, c] == o.track_id, (frame.index, view.agent_id, o.track_id)
                assert abs(view.height[r, c] - o.height) < 0.05
                checked += 1
    assert checked >= 30                           # the check really ran over many boxes


def test_every_vehicle_instance_belongs_to_a_ground_truth_box(frames_from_bag):
    for frame in frames_from_bag:
        ids = {o.track_id for o in frame.objects}
        for view in frame.views:
            seen = set(np.unique(view.instance).tolist()) - {0}
            assert seen and seen <= ids


def test_ground_pixel_depth_is_the_ray_plane_intersection(frames_from_bag):
    view = frames_from_bag[0].views[0]
    h, w = view.depth.shape
    u, v = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    analytic = ray_ground_depth(view.K, view.cam_to_map, u, v)
    ground = (view.instance == 0) & (view.height == 0) & np.isfinite(view.depth)
    assert ground.mean() > 0.3
    np.testing.assert_allclose(view.depth[ground], analytic[ground], rtol=2e-4)
    # points above the ground (buildings, trees, vehicles) are nearer than the ground behind them
    above = view.height > 0.5
    assert above.any()
    assert np.all(view.depth[above] < analytic[above])
