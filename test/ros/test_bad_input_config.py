"""Bad configuration (wrong parameter type, missing weights, other architecture) stops the node.

The node refuses to start on a parameter of the wrong type, a missing weights file or weights of
another architecture: exit 2, one line naming the parameter and why, no traceback. A good
configuration of the same node in the same test still starts (it is the configuration that is
refused, not the node).
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import wait_for


def _run(module: str, params: list[str], env: dict) -> subprocess.CompletedProcess:
    args = [a for p in params for a in ('-p', p)]
    return subprocess.run(
        [sys.executable, '-m', module, '--ros-args', *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope='module')
def foreign_weights(tmp_path_factory):
    import torch

    path = tmp_path_factory.mktemp('weights') / 'other_net.pt'
    torch.save({'config': {}, 'state_dict': torch.nn.Conv2d(3, 8, 3).state_dict()}, path)
    return path


CASES = [
    (
        'rsdfm_fusion.fusion_node',
        ['region_size:=big'],
        'parameter region_size must be of type float',
        "'big'",
    ),
    (
        'rsdfm_perception.perception_node',
        ['codec_topk:=1.5'],
        'parameter codec_topk must be of type int',
        '1.5',
    ),
    (
        'rsdfm_perception.perception_node',
        ['map_rate:=-2.5'],
        'map_rate must be >= 0 Hz',
        '-2.5',
    ),
    (
        'rsdfm_fusion.detection_node',
        ['score_threshold:=true'],
        'parameter score_threshold must be of type float',
        'True',
    ),
    (
        'rsdfm_fusion.fusion_node',
        ['weights:=/nonexistent/rsdfm.pt'],
        'parameter weights',
        'not found',
    ),
    (
        'rsdfm_perception.perception_node',
        ['weights:={foreign}'],
        'parameter weights',
        'another architecture',
    ),
]


@pytest.mark.parametrize(
    'module, params, words, value',
    CASES,
    ids=[c[2].split()[1] + '-' + c[0].split('.')[1] for c in CASES],
)
def test_bad_configuration_refuses_to_start_in_one_line(
    module, params, words, value, foreign_weights, ros_env
):
    proc = _run(module, [p.format(foreign=foreign_weights) for p in params], ros_env)
    errors = [line for line in proc.stderr.splitlines() if 'error:' in line]
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and words in errors[0] and value in errors[0], proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr


def test_the_same_node_starts_with_good_settings(ros_env):
    # the refusals above are about the settings: the same command with good values runs until
    # stopped
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'rsdfm_fusion.fusion_node',
            '--ros-args',
            '-p',
            'region_size:=96.0',
            '-p',
            'threads:=1',
        ],
        env=ros_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or 'model ' in (lines.append(proc.stdout.readline()) or lines[-1])
            ),
            timeout=60,
            interval=0.01,
            message='fusion node up',
        )
        assert proc.poll() is None, ''.join(lines)
    finally:
        proc.terminate()
        proc.wait(20)
