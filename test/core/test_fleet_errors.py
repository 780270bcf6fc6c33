"""Pose noise, delay and fleet subsets applied to frames: seeded, exact where they should be."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from rsdfm_core.fleet_errors import apply_fleet_errors, FleetErrors, noisy_pose, pose_error
from rsdfm_core.types import CameraView, Frame, ObjectState

PERIOD_NS = 100_000_000           # 10 Hz


def pose(agent: int, i: int) -> np.ndarray:
    out = np.eye(4)
    out[:3, 3] = (10.0 * agent, float(i), 80.0)
    return out


def frames(n: int = 6, drones: int = 3, start_ns: int = 1_000_000_000) -> list[Frame]:
    """Return n frames of `drones` drones; each image holds its frame index, to trace delays."""
    return [Frame(i, start_ns + i * PERIOD_NS,
                  [CameraView(f'uav{a + 1}', np.full((2, 2, 3), i, np.uint8), np.eye(3),
                              pose(a, i)) for a in range(drones)],
                  [ObjectState(1, 'car', float(i), 0.0, 0.8, 4.5, 1.9, 1.6, 0.0)])
            for i in range(n)]


def poses(out: list[Frame]) -> dict:
    return {(f.stamp_ns, v.agent_id): v.cam_to_map for f in out for v in f.views}


def test_the_defaults_change_nothing():
    src = frames()
    out, info = apply_fleet_errors(src, FleetErrors())
    assert info['frames_left_out'] == 0 and info['drones'] == ['uav1', 'uav2', 'uav3']
    for a, b in zip(src, out):
        assert a.stamp_ns == b.stamp_ns and a.objects is b.objects
        assert [v.agent_id for v in a.views] == [v.agent_id for v in b.views]
        for va, vb in zip(a.views, b.views):
            assert va.image is vb.image and np.array_equal(va.cam_to_map, vb.cam_to_map)


def test_noise_is_seeded_per_drone_and_frame_and_spares_the_reference():
    src = frames()
    errs = FleetErrors(1.0, 1.0, seed=7)
    a, info = apply_fleet_errors(src, errs)
    b, _ = apply_fleet_errors(src, errs)
    c, _ = apply_fleet_errors(src, FleetErrors(1.0, 1.0, seed=8))
    pa, pb, pc = poses(a), poses(b), poses(c)
    assert info['reference'] == 'uav1'
    for key, p in pa.items():
        assert np.array_equal(p, pb[key])
        exact = pose(int(key[1][3:]) - 1, (key[0] - src[0].stamp_ns) // PERIOD_NS)
        if key[1] == 'uav1':
            assert np.array_equal(p, exact)
        else:
            assert not np.allclose(p, exact) and not np.allclose(p, pc[key])
    # a subset in another order gives each drone the same error
    sub, _ = apply_fleet_errors(src, FleetErrors(1.0, 1.0, seed=7, drones=('uav3', 'uav1', 'uav2'),
                                                 reference='uav1'))
    for key, p in poses(sub).items():
        assert np.array_equal(p, pa[key])


def test_without_reference_every_drone_errs():
    out, info = apply_fleet_errors(frames(), FleetErrors(0.5, 0.0, reference=None))
    assert info['reference'] is None
    for f in out:
        for v in f.views:
            exact = pose(int(v.agent_id[3:]) - 1, f.index)
            assert not np.allclose(v.cam_to_map[:3, 3], exact[:3, 3])


def test_noise_has_the_asked_spread():
    errs = FleetErrors(2.0, 1.5)
    shifts, angles = [], []
    for stamp in range(4000):
        e = pose_error(errs, stamp, 'uav2')
        shifts.append(e[:3, 3])
        angles.append(math.degrees(math.acos(np.clip((np.trace(e[:3, :3]) - 1) / 2, -1, 1))))
    assert np.std(shifts, axis=0) == pytest.approx([2.0] * 3, rel=0.06)
    # three independent angles of sigma s: the rotation angle's RMS is s * sqrt(3)
    assert math.sqrt(np.mean(np.square(angles))) == pytest.approx(1.5 * math.sqrt(3), rel=0.06)


def test_rotation_error_turns_the_camera_about_its_own_centre():
    cam = pose(2, 5)
    err = pose_error(FleetErrors(0.0, 3.0), 42, 'uav3')
    out = noisy_pose(cam, err)
    assert np.array_equal(out[:3, 3], cam[:3, 3])
    assert np.allclose(out[:3, :3] @ out[:3, :3].T, np.eye(3))


def test_delay_takes_older_views_and_leaves_out_frames_without_one():
    src = frames(6) + frames(4, start_ns=10_000_000_000)     # two sequences
    out, info = apply_fleet_errors(src, FleetErrors(delay_ms=200))
    assert info['delay_frames'] == 2 and info['frames_left_out'] == 4
    assert [f.stamp_ns for f in out] == [f.stamp_ns for f in src[2:6] + src[8:]]
    for f in out:
        seen = {v.agent_id: int(v.image[0, 0, 0]) for v in f.views}
        here = next(g.index for g in src if g.stamp_ns == f.stamp_ns)
        assert seen == {'uav1': here, 'uav2': here - 2, 'uav3': here - 2}
        assert f.objects[0].x == here                          # the truth of the stamp


@pytest.mark.parametrize('errors, words', [
    (FleetErrors(delay_ms=150), 'not a whole number of frame periods (100 ms'),
    (FleetErrors(drones=('uav1', 'uav9')), 'uav9 not in the bag (it has uav1, uav2, uav3)'),
    (FleetErrors(drones=('uav2',), reference='uav1'), 'reference drone uav1 is not among'),
])
def test_impossible_errors_are_refused_with_the_reason(errors, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        apply_fleet_errors(frames(), errors)


def test_negative_or_nan_settings_are_refused():
    for kwargs in ({'position_sigma_m': -1.0}, {'rotation_sigma_deg': math.nan},
                   {'delay_ms': -100.0}):
        with pytest.raises(ValueError, match='must be a finite number >= 0'):
            FleetErrors(**kwargs)
