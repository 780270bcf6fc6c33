"""Ground misplacement: where a believed pose puts the ground, and what a correction leaves."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rsdfm_core.fleet_errors import noisy_pose, rotation_ypr, true_pose
from rsdfm_core.geometry import BevGrid, intrinsics, look_at_optical
from rsdfm_core.metrics.misplacement import misplacement, summarise

K = intrinsics(640, 480, 70.0)
POSE = look_at_optical(np.array([-40.0, 0.0, 80.0]), np.array([10.0, 0.0, 0.0]))
GRID = BevGrid.centred(10.0, 0.0, 128.0, 128.0, 1.0)


def error(dx=0.0, dy=0.0, dz=0.0, yaw_deg=0.0, pitch_deg=0.0) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation_ypr(math.radians(yaw_deg), math.radians(pitch_deg), 0.0)
    out[:3, 3] = dx, dy, dz
    return out


def cells_shift(dx: float, dy: float) -> np.ndarray:
    """Homography of GRID's cells moving content by (dx, dy) metres (the grid has no yaw)."""
    return np.array([[1.0, 0, dx / GRID.resolution], [0, 1.0, dy / GRID.resolution], [0, 0, 1]])


def test_an_exact_pose_puts_the_ground_in_place():
    distance, turn = misplacement(K, POSE, POSE, (640, 480), GRID)
    assert distance == pytest.approx(0.0, abs=1e-9) and turn == pytest.approx(0.0, abs=1e-9)


def test_a_position_error_moves_the_ground_by_as_much():
    believed = noisy_pose(POSE, error(dx=1.5, dy=-2.0))
    distance, turn = misplacement(K, POSE, believed, (640, 480), GRID)
    assert distance == pytest.approx(2.5, abs=1e-6)
    assert turn == pytest.approx(0.0, abs=1e-6)
    # the correction that moves the map back leaves nothing; half of it leaves half
    assert misplacement(K, POSE, believed, (640, 480), GRID, cells_shift(-1.5, 2.0))[0] \
        == pytest.approx(0.0, abs=1e-6)
    assert misplacement(K, POSE, believed, (640, 480), GRID, cells_shift(-0.75, 1.0))[0] \
        == pytest.approx(1.25, abs=1e-6)


def test_a_heading_error_turns_the_ground():
    believed = noisy_pose(POSE, error(yaw_deg=1.0))
    distance, turn = misplacement(K, POSE, believed, (640, 480), GRID)
    assert turn == pytest.approx(1.0, abs=1e-6)
    # about the camera: ground 60-150 m away moves 1-2.6 m
    assert 0.9 < distance < 2.7


def test_true_pose_undoes_noisy_pose():
    e = error(dx=0.4, dy=-1.0, dz=0.7, yaw_deg=1.5, pitch_deg=-0.8)
    assert np.allclose(true_pose(noisy_pose(POSE, e), e), POSE)


def test_a_camera_that_sees_no_ground_in_the_grid_has_no_figure():
    far = BevGrid.centred(5000.0, 0.0, 128.0, 128.0, 1.0)
    assert misplacement(K, POSE, POSE, (640, 480), far) is None
    assert summarise([]) == {'drone_frames': 0}
    s = summarise([(1.0, 0.5), (3.0, 1.5)])
    assert s['drone_frames'] == 2 and s['median_m'] == 2.0 and s['median_deg'] == 1.0
