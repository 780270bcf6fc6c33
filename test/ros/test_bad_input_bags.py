"""`rsdfm replay` on damaged bags: a cut MCAP, a missing topic, a topic of an unknown type.

The missing topic is one requested that the bag lacks; the unknown type is one rclpy does not
know. Without --skip-bad: exit 2 and one line naming the file and the problem; with --skip-bad:
the readable messages are played (exit 0) and what was left out is said.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from bad_bags import cut_bag, rewrite_bag, small_bag, UNKNOWN_TYPE

RSDFM = shutil.which('rsdfm') or 'rsdfm'


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('replay_bags')
    good = small_bag(root / 'good', frames=4)
    return {
        'good': good,
        'cut': cut_bag(good, root / 'cut'),
        'no_pose': rewrite_bag(good, root / 'no_pose', drop_topics=('/uav2/camera/pose',)),
        'unknown_type': rewrite_bag(
            good, root / 'unknown_type', extra_unknown_topic='/uav2/telemetry'
        ),
    }


def _replay(bag, *extra, env):
    return subprocess.run(
        [RSDFM, 'replay', str(bag), '--rate', '20', *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


CASES = [
    ('cut', [], 'is cut short or damaged'),
    (
        'no_pose',
        ['--topics', '/uav1/camera/pose', '/uav2/camera/pose'],
        "['/uav2/camera/pose'] not in the bag",
    ),
    ('unknown_type', [], f'/uav2/telemetry: message type {UNKNOWN_TYPE} is not available'),
]


@pytest.mark.parametrize('kind, extra, words', CASES, ids=[c[0] for c in CASES])
def test_replay_refuses_a_damaged_bag_or_plays_what_is_readable(bags, kind, extra, words, ros_env):
    proc = _replay(bags[kind], *extra, env=ros_env)
    errors = [line for line in proc.stderr.splitlines() if 'error' in line]
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and words in errors[0] and str(bags[kind]) in errors[0], proc.stderr
    assert 'Traceback' not in proc.stderr
    proc = _replay(bags[kind], *extra, '--skip-bad', env=ros_env)
    assert proc.returncode == 0 and 'Traceback' not in proc.stderr, proc.stderr
    sent = int(re.search(r'replay: done, (\d+) messages', proc.stderr)[1])
    assert sent >= 1 and 'warning' in proc.stderr, proc.stderr
    good = _replay(
        bags['good'], *extra, env=ros_env
    )  # the same command on the whole bag plays more
    assert good.returncode == 0 and int(re.search(r'done, (\d+) messages', good.stderr)[1]) >= sent
