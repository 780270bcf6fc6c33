"""Damaged bags: a cut MCAP, a bag missing a topic, topics of unknown message types.

read_frames and `rsdfm evaluate` stop with an error naming the file and the problem (evaluate:
exit 2, one line, no traceback), or with skip_bad / --skip-bad go on with what is readable.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bad_bags import cut_bag, mcap_of, rewrite_bag, small_bag, UNKNOWN_TYPE
from rsdfm_core.bag import BagError, read_frames

FRAMES = 6


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('bags')
    good = small_bag(root / 'good', frames=FRAMES)
    return {
        'good': good,
        'cut': cut_bag(good, root / 'cut'),
        'no_pose': rewrite_bag(good, root / 'no_pose', drop_topics=('/uav2/camera/pose',)),
        'no_truth': rewrite_bag(good, root / 'no_truth', drop_topics=('/ground_truth/objects',)),
        'unknown_type': rewrite_bag(
            good,
            root / 'unknown_type',
            retype={'/uav2/camera/image_raw': UNKNOWN_TYPE},
            extra_unknown_topic='/uav2/telemetry',
        ),
    }


def _frames(bag, **kw):
    warnings = []
    frames = list(read_frames(bag, warn=warnings.append, **kw))
    return frames, warnings


def test_cut_mcap_is_named_or_read_up_to_the_cut(bags):
    with pytest.raises(BagError, match='cut short') as err:
        list(read_frames(bags['cut']))
    assert str(mcap_of(bags['cut'])) in str(err.value) and '--skip-bad' in str(err.value)
    frames, warnings = _frames(bags['cut'], skip_bad=True)
    assert 1 <= len(frames) < FRAMES, len(frames)
    assert all(len(f.views) >= 1 for f in frames) and any('before the cut' in w for w in warnings)
    assert (
        len(_frames(bags['good'])[0]) == FRAMES
    )  # the same reader on the whole bag reads all of it


def test_missing_topic_is_named_or_that_drone_left_out(bags):
    with pytest.raises(BagError, match='topic /uav2/camera/pose is missing') as err:
        list(read_frames(bags['no_pose']))
    assert str(bags['no_pose']) in str(err.value)
    frames, warnings = _frames(bags['no_pose'], skip_bad=True)
    assert len(frames) == FRAMES and all([v.agent_id for v in f.views] == ['uav1'] for f in frames)
    assert any('leaving drone uav2 out' in w for w in warnings)
    with pytest.raises(BagError, match='/ground_truth/objects .* is missing'):
        list(read_frames(bags['no_truth'], skip_bad=True, require_ground_truth=True))


def test_unknown_message_type_is_named_or_that_drone_left_out(bags):
    with pytest.raises(BagError, match=f'/uav2/camera/image_raw has message type {UNKNOWN_TYPE}'):
        list(read_frames(bags['unknown_type']))
    frames, warnings = _frames(bags['unknown_type'], skip_bad=True)
    assert len(frames) == FRAMES and all([v.agent_id for v in f.views] == ['uav1'] for f in frames)
    assert any(UNKNOWN_TYPE in w for w in warnings)


def _evaluate(bag, *extra, tmp_path=None):
    return subprocess.run(
        [
            sys.executable,
            '-m',
            'rsdfm_core.cli',
            'evaluate',
            '--bag',
            str(bag),
            '--max-frames',
            '2',
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize('kind, words', [('cut', 'is cut short or damaged'),
                                         ('no_pose', 'topic /uav2/camera/pose is missing'),
                                         ('unknown_type', f'has message type {UNKNOWN_TYPE}'),
                                         ('no_truth', 'ground truth is missing')])
def test_evaluate_names_the_file_and_the_problem(bags, kind, words):
    proc = _evaluate(bags[kind])
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if 'error' in line]
    assert len(errors) == 1 and words in errors[0] and str(bags[kind]) in errors[0], proc.stderr
    assert 'Traceback' not in proc.stderr


def test_evaluate_skip_bad_goes_on_with_what_is_readable(bags):
    proc = _evaluate(bags['cut'], '--skip-bad')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'before the cut' in proc.stderr and 'Traceback' not in proc.stderr
    result = json.loads(proc.stdout)
    assert result['bag'] == str(bags['cut']) and result.get('frames', 1) >= 1
