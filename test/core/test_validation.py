"""Core input checks: each kind of bad input is refused with its reason, the good one passes.

Inputs checked: BevFeature, image, CameraInfo and pose; a good input sits next to each bad one.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rsdfm_core.geometry import BevGrid, look_at_optical, yaw_to_quat
from rsdfm_core.model.payload import pack_raw, raw_payload_size
from rsdfm_core.validation import (
    check_camera_pose,
    check_feature,
    check_image,
    check_intrinsics,
    FeatureFields,
    FeatureLimits,
)

C, R, W = 4, 16, 16
NOW = 1_700_000_000 * 10**9
LIMITS = FeatureLimits(region=BevGrid.centred(0, 0, 128, 128, 1.0), channels=C)


def good_feature(**change) -> FeatureFields:
    grid = BevGrid.centred(10.0, -5.0, W * 1.0, R * 1.0, 1.0)
    payload = pack_raw(np.zeros((C, R, W), np.float32), np.ones((R, W), bool))
    f = FeatureFields(
        'uav1',
        NOW,
        (0.0, 0.0, 80.0),
        (1.0, 0.0, 0.0, 0.0),
        (grid.origin_x, grid.origin_y, 0.0),
        tuple(yaw_to_quat(0.0)),
        1.0,
        R,
        W,
        C,
        'raw-f32',
        payload,
        C * R * W * 4,
    )
    return dataclasses.replace(f, **change)


def test_good_feature_passes():
    assert check_feature(good_feature(), LIMITS, NOW) is None
    assert len(good_feature().payload) == raw_payload_size(C, R, W)


BAD_FEATURES = [
    ('payload_size', {'payload': good_feature().payload[:-7]}),
    ('payload_size', {'payload': good_feature().payload + b'\0' * 9}),
    ('payload_header', {'payload': b'RAW'}),
    ('grid_size', {'rows': 0}),
    ('grid_size', {'cols': 0}),
    ('grid_size', {'rows': 65535, 'cols': 65535}),
    ('channels', {'channels': 0}),
    ('channels', {'channels': 65535}),
    ('payload_shape', {'rows': 8, 'cols': 32}),
    ('codec', {'codec': 'zip-v9'}),
    ('pose_not_finite', {'camera_position': (float('nan'), 0.0, 80.0)}),
    ('pose_not_finite', {'grid_orientation': (0.0, 0.0, 0.0, float('inf'))}),
    ('quaternion_not_unit', {'camera_orientation': (0.0, 0.0, 0.0, 2.0)}),
    ('quaternion_not_unit', {'grid_orientation': (0.0, 0.0, 0.0, 0.0)}),
    ('pose_out_of_range', {'camera_position': (0.0, 0.0, 1e9)}),
    ('resolution', {'resolution': 0.0}),
    ('resolution', {'resolution': -1.0}),
    ('resolution', {'resolution': float('nan')}),
    ('grid_outside_region', {'grid_position': (5000.0, 0.0, 0.0)}),
    ('stamp_future', {'stamp_ns': NOW + 3600 * 10**9}),
    ('stamp_past', {'stamp_ns': NOW - 3600 * 10**9}),
    ('stamp_missing', {'stamp_ns': 0}),
    ('agent_id', {'agent_id': ''}),
    ('agent_id', {'agent_id': 'x' * 1000}),
]


@pytest.mark.parametrize(
    'reason, change', BAD_FEATURES, ids=[f'{r}-{i}' for i, (r, _) in enumerate(BAD_FEATURES)]
)
def test_bad_feature_is_refused_with_its_reason(reason, change):
    refusal = check_feature(good_feature(**change), LIMITS, NOW)
    assert refusal is not None and refusal.reason == reason, refusal
    assert 'uav1' in refusal.detail or reason == 'agent_id'


def test_hlf_payload_header_is_checked_against_the_message():
    from rsdfm_core.model.payload import HlfContent, pack_hlf

    rng = np.random.default_rng(0)
    c = HlfContent(
        C,
        R,
        W,
        4,
        8,
        np.ones((R, W), bool),
        np.zeros(2, np.float32),
        np.ones(2, np.float32),
        rng.integers(0, 255, (2, 4, 4)).astype(np.uint8),
        np.zeros(2, np.float32),
        np.ones(2, np.float32),
        np.arange(5),
        rng.integers(0, 255, (2, 5)).astype(np.uint8),
    )
    payload = pack_hlf(c)
    assert check_feature(good_feature(codec='hlf-v1', payload=payload), LIMITS, NOW) is None
    assert (
        check_feature(good_feature(codec='hlf-v1', payload=payload[:-1]), LIMITS, NOW).reason
        == 'payload_size'
    )
    assert check_feature(good_feature(codec='hlf-v1', payload=payload, rows=65535, cols=1), LIMITS,
                         NOW).reason == 'payload_shape'
    # the raw codec name on an hlf payload: the header magic does not match
    assert (
        check_feature(good_feature(codec='raw-f32', payload=payload), LIMITS, NOW).reason
        == 'payload_header'
    )


def test_images_and_camera_info():
    assert check_image('rgb8', 160, 120, 480, 480 * 120, (160, 120)) is None
    assert check_image('bgr8', 160, 120, 484, 484 * 120) is None
    assert check_image('mono8', 160, 120, 160, 160 * 120) is None
    assert check_image('bgra8', 160, 120, 640, 640 * 120) is None
    assert check_image('yuv422', 160, 120, 320, 320 * 120).reason == 'image_encoding'
    assert check_image('rgba8', 160, 120, 480, 480 * 120).reason == 'image_step'
    assert check_image('rgb8', 160, 120, 400, 400 * 120).reason == 'image_step'
    assert check_image('rgb8', 160, 120, 480, 480 * 119).reason == 'image_step'
    assert check_image('rgb8', 160, 120, 480, 480 * 120, (320, 240)).reason == 'image_size'
    assert check_image('rgb8', 0, 120, 0, 0).reason == 'image_size'
    assert check_image('rgb8', 65535, 65535, 3 * 65535, 0).reason == 'image_size'
    K = np.array([[100.0, 0, 80], [0, 100.0, 60], [0, 0, 1]])
    assert check_intrinsics(K.ravel()) is None
    assert check_intrinsics(np.zeros(9)).reason == 'camera_info'
    singular = K.copy()
    singular[1] = singular[0]
    singular[2] = (0, 0, 1)
    assert check_intrinsics(singular.ravel()).reason == 'camera_info'
    assert check_intrinsics([float('nan')] * 9).reason == 'camera_info'


def test_camera_poses_under_ground_or_looking_up_are_refused():
    down = look_at_optical(np.array([0.0, -60.0, 80.0]), np.array([0.0, 0.0, 0.0]))
    assert check_camera_pose(down) is None
    under = look_at_optical(np.array([0.0, -60.0, -5.0]), np.array([0.0, 0.0, -20.0]))
    assert check_camera_pose(under).reason == 'camera_under_ground'
    sky = look_at_optical(np.array([0.0, -60.0, 80.0]), np.array([0.0, 0.0, 200.0]))
    refusal = check_camera_pose(sky)
    assert refusal.reason == 'camera_looks_at_sky' and 'above the horizon' in refusal.detail
