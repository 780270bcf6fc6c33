"""Ground-prior lift: a feature forced into one height bin lands in its analytic point's cell."""
import numpy as np
import torch

from rsdfm_core.geometry import (
    BevGrid,
    intrinsics,
    look_at_optical,
    project_points,
    ray_ground_depth,
)
from rsdfm_core.model.lift import (
    absolute_depth_points,
    camera_validity,
    ground_prior_points,
    splat,
)

torch.set_num_threads(1)
W, H, STRIDE = 64, 48, 4
GRID = BevGrid.centred(0.0, 0.0, 128.0, 128.0, 1.0)


def _camera():
    K = intrinsics(W, H, 60.0)
    T = look_at_optical(np.array([-50.0, -20.0, 70.0]), np.array([5.0, 3.0, 0.0]))
    return K, T


def _lift_one(K, T, heights, pixel, bin_index):
    """Splat a one-hot feature at feature pixel `pixel` = (row, col), all mass in `bin_index`."""
    hf, wf = H // STRIDE, W // STRIDE
    pts, ok = ground_prior_points(
        torch.tensor(K[None], dtype=torch.float64),
        torch.tensor(T[None], dtype=torch.float64),
        (hf, wf),
        STRIDE,
        torch.tensor(heights, dtype=torch.float64),
    )
    feats = torch.zeros(1, 2, hf * wf, dtype=torch.float64)
    n = pixel[0] * wf + pixel[1]
    feats[0, 0, n] = 1.0
    probs = torch.zeros(1, len(heights), hf * wf, dtype=torch.float64)
    probs[0, bin_index] = 1.0
    bev, weight = splat(feats, probs, pts, ok, GRID)
    return bev[0, 0].numpy(), pts[0, :, n].numpy()


def test_ground_bin_lands_in_cell_of_analytic_ground_point():
    K, T = _camera()
    row, col = 7, 5
    u, v = (col + 0.5) * STRIDE, (row + 0.5) * STRIDE
    t_g = ray_ground_depth(K, T, np.array([u]), np.array([v]))[0]
    ray = np.linalg.inv(K) @ np.array([u, v, 1.0])
    ground = T[:3, :3] @ (t_g * ray) + T[:3, 3]
    assert abs(ground[2]) < 1e-6
    bev, pts = _lift_one(K, T, [0.0, 1.0, 2.5], (row, col), 0)
    c, r = np.floor(GRID.map_to_cells(ground[None, :2])[0]).astype(int)
    assert bev[r, c] == 1.0 and bev.sum() == 1.0
    np.testing.assert_allclose(pts[0], ground, atol=1e-6)


def test_raised_point_found_in_its_height_bin_and_cell():
    K, T = _camera()
    raised = np.array([3.3, -7.9, 2.5])  # a point 2.5 m above the ground (a bus roof)
    uv, _ = project_points(K, T, raised[None])
    # choose the camera pixel through which the raised point is seen at a feature-pixel centre
    col, row = int(uv[0, 0] // STRIDE), int(uv[0, 1] // STRIDE)
    centre = np.array([(col + 0.5) * STRIDE, (row + 0.5) * STRIDE])
    ray = np.linalg.inv(K) @ np.array([centre[0], centre[1], 1.0])
    d_map = T[:3, :3] @ ray
    t = (raised[2] - T[2, 3]) / d_map[2]                    # depth where this ray is 2.5 m high
    target = T[:3, 3] + t * d_map
    heights = [0.0, 1.0, 2.5, 4.0]
    bev, pts = _lift_one(K, T, heights, (row, col), 2)
    np.testing.assert_allclose(pts[2], target, atol=1e-6)   # the bin-2 point is the point at 2.5 m
    c, r = np.floor(GRID.map_to_cells(target[None, :2])[0]).astype(int)
    assert bev[r, c] == 1.0
    # and the ground bin would put it elsewhere (further along the ray)
    assert np.linalg.norm(pts[0, :2] - target[:2]) > 1.0


def test_absolute_depth_points_lie_on_ray_at_given_depth():
    K, T = _camera()
    pts, ok = absolute_depth_points(torch.tensor(K[None]), torch.tensor(T[None]), (2, 2), STRIDE,
                                    torch.tensor([10.0, 50.0], dtype=torch.float64))
    cam = (np.linalg.inv(T) @ np.c_[pts[0].reshape(-1, 3).numpy(), np.ones(8)].T).T
    np.testing.assert_allclose(np.sort(np.unique(cam[:, 2].round(6))), [10.0, 50.0])
    assert bool(ok.all())


def test_camera_validity_marks_cells_seen_by_the_camera():
    K, T = _camera()
    valid = camera_validity(torch.tensor(K[None]), torch.tensor(T[None]), (H, W), GRID)[0].numpy()
    aim = np.floor(GRID.map_to_cells(np.array([[5.0, 3.0]]))[0]).astype(int)
    assert valid[aim[1], aim[0]]
    behind = np.floor(GRID.map_to_cells(np.array([[-60.0, -24.0]]))[0]).astype(int)
    assert not valid[behind[1], behind[0]]
