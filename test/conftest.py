"""Test set-up shared by every area: workspace environment, isolated ROS domain, helpers.

At import (before any test module imports rclpy or torch):
- if pytest was started without `source env.sh`, it re-executes itself once inside the
  environment env.sh gives (PYTHONPATH, LD_LIBRARY_PATH, AMENT_PREFIX_PATH, ...), so
  `.venv/bin/pytest` works as well as `source env.sh && pytest`;
- ROS_DOMAIN_ID is set to an id in 1..100 derived from this pytest's pid (override with
  RSDFM_TEST_DOMAIN_ID) and discovery is restricted to localhost, so concurrent test runs and a
  running fleet never see each other; subprocesses inherit it;
- torch/OpenMP threads are capped at 2 (the machine has 2 cores shared by everyone).

Fixtures: `repo_root`, `ros_domain_id`, `ros_env` (env dict for ROS subprocesses) and
`rclpy_context` (an initialised rclpy Context, shut down afterwards). Tests under test/ros are
marked `ros`. Plain helpers (wait_for, message_to_plain, ...) live in test/helpers.py.
"""
from __future__ import annotations

import os
from pathlib import Path
import sys
from typing import Iterator

import pytest

from helpers import REPO_ROOT, ros_test_env, workspace_env
from helpers import ros_domain_id as _ros_domain_id

os.environ.setdefault('OMP_NUM_THREADS', '2')
os.environ.setdefault('MKL_NUM_THREADS', '2')
os.environ['ROS_DOMAIN_ID'] = str(_ros_domain_id())
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.pop('ROS_LOCALHOST_ONLY', None)


def _workspace_restart_env() -> dict[str, str] | None:
    """Return the environment to restart this pytest in, or None when it already runs in env.sh's.

    The colcon-built message libraries are found through LD_LIBRARY_PATH, which the dynamic
    loader reads only at process start, so a pytest started without `source env.sh` re-executes
    itself once (as the ROS wheels' own bootstrapper does); RSDFM_WORKSPACE_ENTERED stops a loop.
    """
    msgs_lib = str(REPO_ROOT / 'install' / 'rsdfm_msgs' / 'lib')
    if msgs_lib in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep):
        return None
    if os.environ.get('RSDFM_WORKSPACE_ENTERED'):
        return None
    try:
        env = workspace_env()
    except Exception as exc:  # reported by the ROS tests that need it, not at collection
        os.environ['RSDFM_WORKSPACE_ERROR'] = str(exc)
        return None
    new_env = dict(os.environ, RSDFM_WORKSPACE_ENTERED='1', **env)
    new_env.pop('_ROS_WHEELS_BOOTSTRAP_COMPLETE', None)  # let it add the wheels' .libs dirs again
    return new_env


def pytest_configure(config: pytest.Config) -> None:
    """Re-execute pytest inside the workspace environment if needed (before any test imports)."""
    env = _workspace_restart_env()
    if env is None:
        return
    capture = config.pluginmanager.getplugin('capturemanager')
    if capture is not None:
        capture.stop_global_capturing()  # give the real stdout/stderr back to the new process
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under test/ros with `ros`."""
    ros_dir = REPO_ROOT / 'test' / 'ros'
    for item in items:
        if ros_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.ros)


@pytest.fixture(scope='session')
def repo_root() -> Path:
    """Return the repository root (the folder holding Makefile and src/)."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def ros_domain_id() -> int:
    """Return the ROS_DOMAIN_ID of this test run (also in os.environ)."""
    return _ros_domain_id()


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for a ROS subprocess: workspace, this run's domain, localhost discovery."""
    if os.environ.get('RSDFM_WORKSPACE_ERROR'):
        pytest.fail(os.environ['RSDFM_WORKSPACE_ERROR'])
    return ros_test_env()


def _initialised_context() -> Iterator[object]:
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture
def rclpy_context() -> Iterator[object]:
    """Yield this test's initialised rclpy Context (pass it as context= to nodes and executors)."""
    yield from _initialised_context()


@pytest.fixture(scope='module')
def module_rclpy_context() -> Iterator[object]:
    """Yield an initialised rclpy Context shared by a module's tests (one graph per module)."""
    yield from _initialised_context()
