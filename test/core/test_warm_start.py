"""The fork server the runner starts nodes from: argv, environment, log, session, exit codes.

Real processes: the server imports torch once, each "node" (test/warm_child.py) is a fork of it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess

import pytest

from helpers import wait_for, workspace_env

TEST_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def starter():
    from rsdfm_bringup.warm_start import WarmStarter
    env = workspace_env()
    env['PYTHONPATH'] = os.pathsep.join([str(TEST_DIR), env.get('PYTHONPATH', '')])
    server = WarmStarter(env)
    yield server, env
    server.close()


def report(log: Path) -> dict:
    return json.loads(log.read_text().splitlines()[0])


def test_forked_node_runs_main_with_its_argv_env_and_log(starter, tmp_path):
    server, env = starter
    log = tmp_path / 'node.log'
    proc = server.start('warm_child', ['uav7', '3'], {**env, 'WARM_MARK': 'm1'}, str(log))
    assert proc.wait(timeout=60) == 3
    got = report(log)
    assert got == {'argv': ['uav7', '3'], 'mark': 'm1', 'torch_loaded': True,
                   'rclpy_loaded': False, 'own_session': True}


def test_killed_node_reports_the_signal_and_sigint_stops_it_cleanly(starter, tmp_path):
    server, env = starter
    procs = {}
    for name in ('killed', 'interrupted'):
        log = tmp_path / f'{name}.log'
        procs[name] = (server.start('warm_child', [name, 'wait'], env, str(log)), log)
    for proc, log in procs.values():
        wait_for(lambda: log.exists() and log.read_text().strip(), timeout=60,
                 message='forked node started')
        assert proc.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.2)
    procs['killed'][0].kill()
    procs['interrupted'][0].send_signal(signal.SIGINT)
    assert procs['killed'][0].wait(timeout=30) == -signal.SIGKILL
    assert procs['interrupted'][0].wait(timeout=30) == 0
    assert procs['killed'][0].returncode == -signal.SIGKILL


def test_a_module_that_cannot_run_exits_1_with_its_error_in_the_log(starter, tmp_path):
    server, env = starter
    log = tmp_path / 'missing.log'
    proc = server.start('no_such_node_module', [], env, str(log))
    assert proc.wait(timeout=60) == 1
    assert "No module named 'no_such_node_module'" in log.read_text()
