"""The packages depend on each other one way.

core <- ros <- {perception, fusion} <- bringup <- bench.

A drone computer installs rsdfm_core, rsdfm_msgs, rsdfm_ros and rsdfm_perception only, so the
drone side (and its tests) must never import the ground station's package, and the core never
imports ROS. Read statically with ast (imports inside functions count too), and checked once at
run time by importing the perception node in a fresh interpreter.
"""
from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

from helpers import top_level_imports

REPO_ROOT = Path(__file__).resolve().parent.parent
SRC = REPO_ROOT / 'src'
WORKSPACE = {'rsdfm_core', 'rsdfm_msgs', 'rsdfm_ros', 'rsdfm_perception', 'rsdfm_fusion',
             'rsdfm_bringup', 'rsdfm_bench'}
# package -> the workspace packages its code may import (besides itself)
ALLOWED = {
    'rsdfm_core': set(),
    'rsdfm_ros': {'rsdfm_core', 'rsdfm_msgs'},
    'rsdfm_perception': {'rsdfm_core', 'rsdfm_msgs', 'rsdfm_ros'},
    'rsdfm_fusion': {'rsdfm_core', 'rsdfm_msgs', 'rsdfm_ros'},
    'rsdfm_bringup': {'rsdfm_core', 'rsdfm_msgs', 'rsdfm_ros'},
    'rsdfm_bench': {'rsdfm_core', 'rsdfm_msgs', 'rsdfm_ros', 'rsdfm_bringup'},
}
ROS_MODULES = {'rclpy', 'launch', 'launch_ros', 'tf2_ros', 'rosidl_runtime_py'}


def package_files(package: str) -> list[Path]:
    root = SRC / package / package
    return sorted(p for p in root.rglob('*.py') if '__pycache__' not in p.parts)


def test_every_python_package_has_a_rule() -> None:
    found = {p.parent.name for p in SRC.glob('*/setup.py')}
    assert found == set(ALLOWED), f'packages without a dependency rule: {found ^ set(ALLOWED)}'


@pytest.mark.parametrize('package', sorted(ALLOWED))
def test_package_imports_follow_the_layers(package: str) -> None:
    wrong = {}
    for path in package_files(package):
        used = (top_level_imports(path) & WORKSPACE) - {package}
        bad = used - ALLOWED[package]
        if package == 'rsdfm_core':
            bad |= top_level_imports(path) & (ROS_MODULES | {'rsdfm_msgs'})
        if bad:
            wrong[str(path.relative_to(SRC))] = sorted(bad)
    assert not wrong, f'{package} imports packages above it: {wrong}'


def test_perception_tests_do_not_import_the_ground_station() -> None:
    """They may start the node with the runner (rsdfm_bringup), never use the fusion package."""
    tests = [p for p in (REPO_ROOT / 'test').rglob('*.py')
             if 'perception' in p.name or 'rsdfm_perception' in top_level_imports(p)]
    assert tests, 'no perception tests found'
    offenders = [str(p.relative_to(REPO_ROOT)) for p in tests
                 if 'rsdfm_fusion' in top_level_imports(p)]
    assert not offenders, f'perception tests importing the ground station: {offenders}'


@pytest.mark.ros
def test_perception_node_loads_without_the_ground_station() -> None:
    code = ('import sys, rsdfm_perception.perception_node as n; n.PerceptionNode; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("rsdfm_fusion", "rsdfm_bringup", "rsdfm_bench")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == '[]', f'the perception node pulled in: {out.stdout.strip()}'
