"""The installed launch file runs the fleet.

launch_testing's own runner (`launch_test`) runs fleet_launch_checks.py, which starts
`fleet.launch.py drones:=2` from share/rsdfm_bringup, replays a bag made by `rsdfm simulate`
into it with `rsdfm replay`, and checks the outputs and the real `ros2` command line from
outside; once on the wall clock (replay --restamp) and once with use_sim_time:=true (replay
--clock, the bag's own stamps).

launch_testing's pytest plugin does not load under pytest 9 (pytest.ini keeps it out), so the
checks run as a launch_testing file under `launch_test`, as `colcon test` runs launch tests,
and this test reads its JUnit report.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import signal
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from helpers import ros_test_env

TEST_DIR = Path(__file__).resolve().parents[1]
CHECKS = Path(__file__).with_name('fleet_launch_checks.py')
LAUNCH_TEST = Path(sys.executable).with_name('launch_test')
RSDFM = str(Path(sys.executable).with_name('rsdfm'))
FRAMES = 16            # 1.6 s of bag at 10 Hz
CHECK_CASES = 2        # test cases in fleet_launch_checks.py


@pytest.fixture(scope='module')
def bag(tmp_path_factory) -> Path:
    """Make a short simulated bag of uav1 and uav2 (small images) with `rsdfm simulate`."""
    if importlib.util.find_spec('launch_testing') is None or not LAUNCH_TEST.exists():
        pytest.fail('launch_testing is not installed: scripts/setup.sh installs the ROS 2 tools '
                    'from RSDFM_ROS_SOURCES (default ../shared/vendor/ros2); see README.md',
                    pytrace=False)
    out = tmp_path_factory.mktemp('launch') / 'bag'
    done = subprocess.run([RSDFM, 'simulate', '--out', str(out), '--drones', '2',
                           '--frames', str(FRAMES), '--width', '320', '--height', '240',
                           '--seed', '3', '--no-dense-gt'],
                          env=ros_test_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def run_launch_test(args: list[str], env: dict[str, str], log: Path, timeout: float) -> int:
    """Run `launch_test` in its own session; on timeout stop it and every node it started."""
    with open(log, 'w') as out:
        proc = subprocess.Popen([str(LAUNCH_TEST), *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            for sig, wait in ((signal.SIGINT, 20), (signal.SIGKILL, 5)):
                os.killpg(proc.pid, sig)
                try:
                    proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            pytest.fail(f'launch_test did not finish within {timeout:g} s; output in {log}')


def junit_cases(report: Path) -> dict[str, str]:
    """Test case name -> 'passed', 'failure', 'error' or 'skipped' from a JUnit XML report."""
    cases = {}
    for case in ElementTree.parse(report).getroot().iter('testcase'):
        outcomes = [child.tag for child in case if child.tag in ('failure', 'error', 'skipped')]
        cases[case.get('name')] = outcomes[0] if outcomes else 'passed'
    return cases


@pytest.mark.slow
@pytest.mark.parametrize('use_sim_time', ['false', 'true'])
def test_installed_launch_file_runs_the_fleet(bag, tmp_path, ros_env, use_sim_time) -> None:
    env = dict(ros_env, PYTHONPATH=os.pathsep.join(
        p for p in (str(TEST_DIR), ros_env.get('PYTHONPATH')) if p))
    report, log = tmp_path / 'launch_test.xml', tmp_path / 'launch_test.log'
    code = run_launch_test([str(CHECKS), f'bag:={bag}', f'use_sim_time:={use_sim_time}',
                            '--junit-xml', str(report)], env, log, timeout=300)
    output = log.read_text()
    assert code == 0, output[-8000:]
    cases = junit_cases(report)
    assert len(cases) == CHECK_CASES and set(cases.values()) == {'passed'}, (cases, output[-4000:])
