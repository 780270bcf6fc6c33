"""Nodes refuse bad parameter values with one clear line and exit code 2, never a traceback."""
import subprocess
import sys

import pytest

CASES = [
    (
        'rsdfm_perception.perception_node',
        'codec_bits:=12',
        'codec_bits must be 0 (default) or 1..8',
    ),
    ('rsdfm_perception.perception_node', 'image_qos:=fast', 'image_qos must be one of'),
    ('rsdfm_fusion.fusion_node', 'region_size:=-5.0', 'region_size'),
    (
        'rsdfm_fusion.fusion_node',
        'agent_forget_timeout:=2.0',
        'agent_forget_timeout must be > drone_timeout',
    ),
    (
        'rsdfm_fusion.fusion_node',
        "allowed_namespaces:=['uav 1']",
        'allowed_namespaces must hold namespaces',
    ),
    ('rsdfm_fusion.fusion_node', 'align:=maybe', 'align must be off, keep or drop'),
    ('rsdfm_fusion.fusion_node', 'align_signal:=images',
     'align_signal must be one of decoded, maps'),
    ('rsdfm_fusion.detection_node', 'threads:=0', 'threads must be an integer >= 1'),
    ('rsdfm_perception.perception_node', 'engine:=tensorrt',
     'engine must be one of torch, onnxruntime'),
    ('rsdfm_fusion.fusion_node', 'engine:=tensorrt', 'engine must be one of torch, onnxruntime'),
    ('rsdfm_fusion.trajectory_node', 'weights:=/nonexistent/w.pt', 'cannot load weights'),
    ('rsdfm_fusion.task_node', 'task:=parking', 'known tasks are road, building, stationary'),
    ('rsdfm_fusion.task_node', 'head:=/nonexistent/h.pt', 'no task head at /nonexistent/h.pt'),
    ('rsdfm_fusion.task_node', 'threshold:=1.5', 'threshold must be in (0, 1)'),
]


def test_a_bad_member_of_the_ground_station_is_one_line_and_exit_2(ros_env):
    """A member's bad setting stops the one-process ground station like its own node."""
    proc = subprocess.run([sys.executable, '-m', 'rsdfm_fusion.ground_station',
                           '--node', 'fusion_node', '-r', '__node:=fusion_node',
                           '--node', 'detection_node', '-p', 'threads:=0'],
                          env=ros_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert 'ground_station: error: threads must be an integer >= 1' in proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'rsdfm_fusion.ground_station',
                           '--node', 'perception_node'],
                          env=ros_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "cannot host 'perception_node'" in proc.stderr, proc.stderr


@pytest.mark.parametrize('module, param, words', CASES)
def test_bad_parameter_is_one_line_and_exit_2(module, param, words, ros_env):
    proc = subprocess.run([sys.executable, '-m', module, '--ros-args', '-p', param], env=ros_env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and 'Traceback' not in proc.stderr, proc.stderr
