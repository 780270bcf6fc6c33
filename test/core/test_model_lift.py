"""Ground-prior lift: a feature forced into one height bin lands in its analytic point's cell."""
import numpy as np
import pytest
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
    depth_bin_centres,
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


def test_splat_sums_every_kept_point_into_its_cell():
    """The gathered splat equals a point-by-point sum, and drops points outside grid or heights."""
    g = torch.Generator().manual_seed(4)
    B, C, D, N = 2, 3, 5, 40
    grid = BevGrid.centred(0.0, 0.0, 16.0, 16.0, 1.0)
    feats = torch.rand(B, C, N, generator=g, dtype=torch.float64)
    probs = torch.rand(B, D, N, generator=g, dtype=torch.float64)
    pts = (torch.rand(B, D, N, 3, generator=g, dtype=torch.float64) - 0.5) * torch.tensor(
        [24.0, 24.0, 16.0], dtype=torch.float64)     # some outside the grid or the heights
    ok = torch.rand(B, 1, N, generator=g) > 0.2
    bev, weight = splat(feats, probs, pts, ok, grid)
    acc = np.zeros((B, grid.rows, grid.cols, C))
    wsum = np.zeros((B, grid.rows, grid.cols))
    kept = 0
    for b in range(B):
        for d in range(D):
            for n in range(N):
                x, y, z = pts[b, d, n].tolist()
                c, r = np.floor(grid.map_to_cells(np.array([[x, y]]))[0]).astype(int)
                if (ok[b, 0, n] and 0 <= c < grid.cols and 0 <= r < grid.rows
                        and -2.0 <= z <= 8.0):
                    acc[b, r, c] += probs[b, d, n].item() * feats[b, :, n].numpy()
                    wsum[b, r, c] += probs[b, d, n].item()
                    kept += 1
    assert 0 < kept < B * D * N
    np.testing.assert_allclose(weight.numpy(), wsum, atol=1e-12)
    expected = acc / np.maximum(wsum, 1.0)[..., None]
    np.testing.assert_allclose(bev.permute(0, 2, 3, 1).numpy(), expected, atol=1e-12)


def test_depth_bins_are_one_metre_apart_or_log_spaced():
    linear = depth_bin_centres(20.0, 200.0, 181, 'linear').numpy()
    np.testing.assert_allclose(np.diff(linear), 1.0, atol=1e-4)
    log = depth_bin_centres(25.0, 450.0, 32).numpy()
    np.testing.assert_allclose(np.diff(np.log(log)), np.log(18.0) / 31, rtol=1e-4)
    with pytest.raises(ValueError, match='spacing'):
        depth_bin_centres(20.0, 200.0, 10, 'cubic')


def test_checkpoint_without_depth_spacing_keeps_its_log_bins(tmp_path):
    """Weights saved before depth_bins had a spacing were trained on log bins: keep them so."""
    from rsdfm_core.model.weights import build_model, load_checkpoint, save_checkpoint
    old = {'model': {'lift': 'absolute', 'depth_bins': {'min': 25.0, 'max': 450.0, 'count': 32}}}
    net = build_model({'model': {'lift': 'absolute', 'depth_bins': {
        'min': 25.0, 'max': 450.0, 'count': 32, 'spacing': 'log'}}})
    save_checkpoint(tmp_path / 'old.pt', net, old)
    loaded, cfg, _ = load_checkpoint(tmp_path / 'old.pt')
    assert cfg['model']['depth_bins']['spacing'] == 'log'
    np.testing.assert_allclose(loaded.bins.numpy(), depth_bin_centres(25.0, 450.0, 32).numpy())
