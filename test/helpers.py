"""Helpers shared by the tests of every area (import them with `from helpers import ...`).

- `wait_for`: poll a condition until it holds or a deadline passes; the way to synchronise with
  another process or a ROS graph instead of a fixed sleep.
- `workspace_env`: the environment `source env.sh` gives (venv + colcon install/), so tests
  work when pytest was started without sourcing it, and subprocesses get the same.
- `ros_test_env`: that environment plus an isolated ROS domain restricted to this host.
- `message_to_plain`: a ROS message as plain dicts/lists, comparable across processes.
- `top_level_imports`: the modules a Python file imports (the package and layer checks).

Kept free of pytest fixtures on purpose: subprocess helper scripts import it too.
"""
from __future__ import annotations

import array
import ast
import hashlib
import os
from pathlib import Path
import subprocess
import time
from typing import Any, Callable, Mapping, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
T = TypeVar('T')

# Variables that `source env.sh` sets or extends; the rest of the environment is left alone.
WORKSPACE_VARS = (
    'PATH',
    'PYTHONPATH',
    'LD_LIBRARY_PATH',
    'AMENT_PREFIX_PATH',
    'CMAKE_PREFIX_PATH',
    'COLCON_PREFIX_PATH',
    'VIRTUAL_ENV',
    'RMW_IMPLEMENTATION',
)


def wait_for(condition: Callable[[], T], timeout: float, interval: float = 0.05,
             message: str = 'condition') -> T:
    """Call `condition` until it returns something truthy and return that; fail after `timeout` s.

    `interval` is only the polling period, not a synchronisation sleep: the wait ends as soon as
    the condition holds. `condition` may do work each call (publish, spin_once, poll a process).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f'{message} did not hold within {timeout:g} s')
        time.sleep(interval)


_workspace_env_cache: dict[str, str] | None = None


def workspace_env() -> dict[str, str]:
    """Return the values of WORKSPACE_VARS after `source env.sh` in the repo root.

    Cached per process. Raises RuntimeError naming the fix when the workspace was never set up.
    """
    global _workspace_env_cache
    if _workspace_env_cache is None:
        if not (REPO_ROOT / 'install' / 'setup.bash').is_file():
            raise RuntimeError(
                f'no colcon workspace in {REPO_ROOT / "install"}: run scripts/setup.sh '
                '(or make setup) first'
            )
        out = subprocess.run(['bash', '-c', 'source ./env.sh >/dev/null && env -0'], cwd=REPO_ROOT,
                             capture_output=True, check=True, timeout=60).stdout
        pairs = (item.split('=', 1) for item in out.decode().split('\0') if '=' in item)
        env = dict(pairs)
        _workspace_env_cache = {k: env[k] for k in WORKSPACE_VARS if k in env}
    return dict(_workspace_env_cache)


def ros_domain_id() -> int:
    """Pick a ROS_DOMAIN_ID in 1..100 for this run: RSDFM_TEST_DOMAIN_ID if set, else from the pid.

    Derived once per pytest process and inherited by subprocesses through the environment, so
    concurrent test runs on one machine talk on different domains.
    """
    fixed = os.environ.get('RSDFM_TEST_DOMAIN_ID')
    if fixed:
        value = int(fixed)
        if not 0 <= value <= 101:
            raise ValueError(f'RSDFM_TEST_DOMAIN_ID must be in 0..101, got {value}')
        return value
    return 1 + os.getpid() % 100


def ros_test_env(
    base: Mapping[str, str] | None = None, domain_id: int | None = None
) -> dict[str, str]:
    """Environment for a ROS subprocess: workspace variables, isolated domain, localhost only."""
    env = dict(os.environ if base is None else base)
    env.update(workspace_env())
    env['ROS_DOMAIN_ID'] = str(ros_domain_id() if domain_id is None else domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.pop('ROS_LOCALHOST_ONLY', None)  # deprecated; conflicts with the discovery range
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    env['PYTHONUNBUFFERED'] = '1'
    return env


def message_to_plain(msg: Any, max_inline: int = 64) -> Any:
    """Convert a ROS message (or field value) to JSON-able dicts and lists.

    Byte/number arrays longer than `max_inline` become {'len': n, 'sha256': hex} so megabyte
    payloads compare cheaply. Numbers keep their Python value (float32 fields come back rounded,
    so tests should use values that float32 holds exactly).
    """
    if hasattr(msg, 'get_fields_and_field_types'):
        return {name: message_to_plain(getattr(msg, name), max_inline)
                for name in msg.get_fields_and_field_types()}
    if type(msg).__module__ == 'numpy' and getattr(msg, 'ndim', 0) == 0:
        return msg.item()
    if isinstance(msg, (bytes, bytearray, array.array)) or type(msg).__module__ == 'numpy':
        data = bytes(msg) if not hasattr(msg, 'tobytes') else msg.tobytes()
        values = list(msg) if not isinstance(msg, (bytes, bytearray)) else list(data)
        if len(values) > max_inline:
            return {'len': len(values), 'sha256': hashlib.sha256(data).hexdigest()}
        return [v.item() if hasattr(v, 'item') else v for v in values]
    if isinstance(msg, (list, tuple)):
        return [message_to_plain(item, max_inline) for item in msg]
    return msg


def top_level_imports(path: Path) -> set[str]:
    """Return the top-level module names a Python file imports absolutely, anywhere in it."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split('.')[0])
    return names
