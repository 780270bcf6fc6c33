"""The aim point of a camera and the grid around it.

Used by drone maps with bev_range and by follow-a-drone fusion.
"""
import numpy as np
import pytest

from rsdfm_core.geometry import look_at_optical
from rsdfm_core.regions import aim_point, grid_around_aim


def test_aim_point_is_where_the_optical_axis_meets_the_ground():
    T = look_at_optical(np.array([30.0, -40.0, 90.0]), np.array([-5.0, 12.0, 0.0]))
    assert np.allclose(aim_point(T), [-5.0, 12.0])
    grid = grid_around_aim(T, 64.0, 0.5)
    assert (grid.rows, grid.cols) == (128, 128)
    assert np.allclose(grid.cell_centres().reshape(-1, 2).mean(0), [-5.0, 12.0])


def test_a_camera_looking_level_aims_at_its_own_position():
    T = look_at_optical(np.array([1.0, 2.0, 50.0]), np.array([100.0, 2.0, 50.0]))
    assert np.allclose(aim_point(T), [1.0, 2.0])


def test_scene_region_holds_the_points_in_whole_blocks():
    from rsdfm_core.regions import region_from_record, region_record, scene_region
    pts = np.array([[-130.0, 4.0], [95.0, 60.5], [10.0, -20.0]])
    grid = scene_region(pts, 1.0, margin=8.0, multiple=32)
    assert grid.cols % 32 == 0 and grid.rows % 32 == 0
    cr = grid.map_to_cells(pts)
    assert (cr[:, 0] >= 8).all() and (cr[:, 0] <= grid.cols - 8).all()
    assert (cr[:, 1] >= 8).all() and (cr[:, 1] <= grid.rows - 8).all()
    again = region_from_record(region_record(grid))
    assert again == grid
    with pytest.raises(ValueError, match='positive sizes'):
        region_from_record('{"cx": 0, "cy": 0, "size_x": 0, "size_y": 10, "resolution": 1}')
    with pytest.raises(ValueError, match='not a region record'):
        region_from_record('[1, 2]')
