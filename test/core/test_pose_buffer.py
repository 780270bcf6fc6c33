"""Pose lookup at an image stamp: exact, interpolated, waiting for a later pose, or refused."""
import numpy as np

from rsdfm_core.geometry import pose_matrix, yaw_to_quat
from rsdfm_perception.pose_buffer import Lookup, PoseBuffer

MS = 1_000_000


def _T(x, yaw):
    return pose_matrix((x, 0.0, 50.0), yaw_to_quat(yaw))


def test_exact_and_interpolated_pose():
    buf = PoseBuffer()
    buf.add(100 * MS, _T(0.0, 0.0))
    buf.add(200 * MS, _T(10.0, 0.4))
    assert np.allclose(buf.lookup(200 * MS, 60 * MS), _T(10.0, 0.4))
    mid = buf.lookup(150 * MS, 60 * MS)
    assert np.allclose(mid, _T(5.0, 0.2), atol=1e-9)


def test_a_stamp_past_the_newest_pose_waits_then_uses_it_only_within_tolerance():
    buf = PoseBuffer()
    assert buf.lookup(100 * MS, 60 * MS) is Lookup.WAIT
    buf.add(100 * MS, _T(0.0, 0.0))
    assert buf.lookup(130 * MS, 60 * MS) is Lookup.WAIT
    assert np.allclose(buf.lookup(130 * MS, 60 * MS, final=True), _T(0.0, 0.0))
    assert buf.lookup(300 * MS, 60 * MS, final=True) is Lookup.MISSING


def test_no_pose_within_tolerance_is_missing():
    buf = PoseBuffer()
    buf.add(0, _T(0.0, 0.0))
    buf.add(1000 * MS, _T(1.0, 0.0))
    assert buf.lookup(500 * MS, 60 * MS) is Lookup.MISSING
    assert buf.lookup(-100 * MS, 60 * MS) is Lookup.MISSING


def test_buffer_keeps_only_the_newest_poses():
    buf = PoseBuffer(size=3)
    for i in range(5):
        buf.add(i * MS, _T(float(i), 0.0))
    assert buf.stamps == [2 * MS, 3 * MS, 4 * MS]
