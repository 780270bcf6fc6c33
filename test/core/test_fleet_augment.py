"""Fleet errors drawn in training: the reference drone stays exact, the others err, seeded."""
import random

import numpy as np

from rsdfm_core.training.fleet_augment import active, scene_views


class FakeSequence:
    """Five frames of three drones whose arrays say which frame and drone they are."""

    def __init__(self):
        ids = np.arange(5)[:, None] * 10 + np.arange(3)[None, :]          # frame * 10 + drone
        self.images = np.broadcast_to(ids[..., None, None, None], (5, 3, 2, 2, 3)).astype(np.uint8)
        self.poses = np.tile(np.eye(4, dtype=np.float32), (5, 3, 1, 1))
        self.poses[:, :, 2, 3] = 80.0 + np.arange(5)[:, None]
        frames = np.arange(5)[:, None, None, None]
        self.hbin = np.broadcast_to(frames, (5, 3, 4, 4)).astype(np.int8)


def test_pose_noise_leaves_the_reference_and_is_seeded():
    seq, cfg = FakeSequence(), {'pose_noise_probability': 1.0, 'pose_noise_levels': [[1.0, 1.0]]}
    assert active(cfg) and not active({})
    images, poses, bins = scene_views(seq, 3, 'hbin', cfg, random.Random(7))
    np.testing.assert_array_equal(poses[0], seq.poses[3, 0])
    moved = [np.linalg.norm(poses[v][:3, 3] - seq.poses[3, v][:3, 3]) for v in (1, 2)]
    assert all(0.0 < m < 8.0 for m in moved)
    turned = [np.degrees(np.arccos(np.clip((np.trace(poses[v][:3, :3]) - 1) / 2, -1, 1)))
              for v in (1, 2)]
    assert all(0.0 < a < 8.0 for a in turned)
    np.testing.assert_array_equal(images, seq.images[3])         # noise moves poses only
    again = scene_views(seq, 3, 'hbin', cfg, random.Random(7))[1]
    np.testing.assert_array_equal(again, poses)
    assert not np.array_equal(scene_views(seq, 3, 'hbin', cfg, random.Random(8))[1], poses)
    assert seq.poses[3, 1, 2, 3] == 83.0, 'the cached sequence must not change'


def test_delay_takes_the_other_drones_views_from_earlier_frames():
    seq, cfg = FakeSequence(), {'delay_probability': 1.0, 'delay_frames_max': 2}
    lags = set()
    for seed in range(20):
        images, poses, bins = scene_views(seq, 4, 'hbin', cfg, random.Random(seed))
        assert images[0, 0, 0, 0] == 40 and poses[0, 2, 3] == 84.0 and bins[0, 0, 0] == 4
        frame = images[1, 0, 0, 0] // 10
        assert frame in (2, 3) and images[2, 0, 0, 0] // 10 == frame
        assert poses[1, 2, 3] == 80.0 + frame and bins[1, 0, 0] == frame
        lags.add(4 - int(frame))
    assert lags == {1, 2}
