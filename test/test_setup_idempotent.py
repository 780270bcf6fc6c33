"""scripts/setup.sh run again on a set-up workspace rebuilds nothing and says so.

The first run here makes sure the workspace is warm (make test has just run setup, so it skips
too); the second must leave the pip install, the colcon-built rsdfm_msgs libraries and its
generated Python untouched (same mtimes) and report that it skipped both steps.
"""
from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time

REPO_ROOT = Path(__file__).resolve().parent.parent
SETUP = REPO_ROOT / 'scripts' / 'setup.sh'


def run_setup(extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(extra_env or {})
    return subprocess.run(['bash', str(SETUP)], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=1800)


def built_artifacts() -> dict[str, int]:
    """Return the mtime (ns) of every file that a pip or colcon run would rewrite."""
    venv_site = (
        REPO_ROOT
        / '.venv'
        / 'lib'
        / f'python{sys.version_info.major}.{sys.version_info.minor}'
        / 'site-packages'
    )
    paths = [
        REPO_ROOT / '.venv' / '.rsdfm-pip-stamp',
        REPO_ROOT / 'install' / '.rsdfm-colcon-stamp',
        venv_site,
        REPO_ROOT / 'install' / 'setup.bash',
    ]
    paths += (REPO_ROOT / 'build' / 'rsdfm_msgs').glob('lib*.so')
    paths += (REPO_ROOT / 'build' / 'rsdfm_msgs' / 'rosidl_generator_py' / 'rsdfm_msgs').rglob('*')
    paths += (REPO_ROOT / 'install' / 'rsdfm_msgs').rglob('*')
    # The ROS tools set-up installs from source where no ROS 2 distribution provides them.
    paths += [REPO_ROOT / '.venv' / '.rsdfm-ros-tools-stamp',
              REPO_ROOT / 'install' / '.rsdfm-ros-tools-stamp']
    paths += (REPO_ROOT / 'install' / 'tf2' / 'lib').glob('*.so')
    paths += (REPO_ROOT / 'install' / 'composition_interfaces' / 'lib').glob('*.so')
    return {str(p): p.lstat().st_mtime_ns for p in paths
            if (p.exists() or p.is_symlink()) and '__pycache__' not in p.parts}


def test_second_run_rebuilds_nothing() -> None:
    first = run_setup()
    assert first.returncode == 0, first.stderr[-3000:]
    before = built_artifacts()
    assert any(p.endswith('librsdfm_msgs__rosidl_typesupport_fastrtps_c.so') for p in before), \
        'rsdfm_msgs was not built by colcon'
    assert any(p.endswith('_bev_feature.py') for p in before), 'no generated Python for BevFeature'

    start = time.monotonic()
    second = run_setup()
    elapsed = time.monotonic() - start
    assert second.returncode == 0, second.stderr[-3000:]
    assert 'requirements.txt unchanged, skipping pip' in second.stderr
    assert 'skipping colcon build' in second.stderr
    ros_tools = [line for line in second.stderr.splitlines() if 'ROS tools:' in line]
    assert ros_tools, 'setup said nothing about the ROS tools (launch, ros2 CLI)'
    if not any('ROS 2 distribution' in line or 'no sources' in line for line in ros_tools):
        assert 'ROS tools: python packages unchanged, skipping pip' in second.stderr
        assert 'ROS tools: colcon packages unchanged, skipping' in second.stderr
    after = built_artifacts()
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert not changed, f'the second setup run touched {changed[:10]}'
    print(f'warm setup run: {elapsed:.2f} s')


def test_setup_names_a_missing_interpreter() -> None:
    """Bad input (no such Python) ends with one clear line, not a traceback, touching nothing."""
    result = run_setup({'PYTHON': '/nonexistent/python3.11'})
    assert result.returncode != 0
    assert "no Python interpreter '/nonexistent/python3.11'" in result.stderr
    assert 'Traceback' not in result.stderr
