"""The ground station's nodes run their parts in ONNX Runtime unless told otherwise.

Started as `ros2 launch` starts them (the parameters file) and bare (the declared defaults),
each node says what its model runs on once it is loaded; the drone side stays eager.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from rsdfm_core.graph import config_dir

LOADED = 'thread(s)'          # load_runtime's log line: the model is loaded


def loaded_line(module: str, name: str, env: dict, args: list[str]) -> str:
    """Start a node, return its model-loaded log line, stop it with SIGINT (exit 0)."""
    proc = subprocess.Popen([sys.executable, '-m', module, '--ros-args', '-r', f'__node:={name}',
                             *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    seen, line = [], ''
    try:
        deadline = time.monotonic() + 120
        while LOADED not in line:
            assert time.monotonic() < deadline, f'{name} did not load its model: {seen[-20:]}'
            line = proc.stderr.readline()
            assert line or proc.poll() is None, f'{name} exited: {seen[-20:]}'
            seen.append(line)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, seen[-20:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return line


@pytest.mark.parametrize('module, name, parts, with_file', [
    ('rsdfm_fusion.fusion_node', 'fusion_node', 'decoder', False),           # declared default
    ('rsdfm_fusion.trajectory_node', 'trajectory_node', 'traj_head', True),  # config/rsdfm.yaml
], ids=['fusion-declared', 'trajectory-params-file'])
def test_ground_station_nodes_default_to_onnxruntime(module, name, parts, with_file, ros_env):
    args = ['--params-file', str(config_dir() / 'rsdfm.yaml')] if with_file else []
    assert f'onnxruntime for {parts}' in loaded_line(module, name, ros_env, args)


def test_perception_node_defaults_to_eager(ros_env):
    line = loaded_line('rsdfm_perception.perception_node', 'perception_node', ros_env,
                       ['--params-file', str(config_dir() / 'rsdfm.yaml')])
    assert 'onnxruntime' not in line, line
