"""The aim point of a camera and the grid around it.

Used by drone maps with bev_range and by follow-a-drone fusion.
"""
import numpy as np

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
