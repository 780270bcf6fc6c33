"""The teardown deadline ends a process stuck in C with the GIL held, with the code it was given.

A node's DDS teardown can deadlock inside Fast DDS while rclpy holds the GIL, so no Python thread
could end it; the deadline is a C timer. Each case runs in its own interpreter, because the
deadline ends the whole process.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from rsdfm_ros.exit_deadline import ExitDeadline


Ran = tuple[subprocess.CompletedProcess, float]


def run_python(code: str, timeout: float = 60.0) -> Ran:
    start = time.monotonic()
    done = subprocess.run([sys.executable, '-c', textwrap.dedent(code).strip()],
                          capture_output=True, text=True, timeout=timeout)
    return done, time.monotonic() - start


def test_a_block_stuck_in_c_holding_the_gil_ends_at_the_deadline_with_its_code():
    done, took = run_python("""
        import ctypes
        from rsdfm_ros.exit_deadline import ExitDeadline
        with ExitDeadline(1.5, warn_before=0.5, exit_code=3) as deadline:
            print('armed', deadline.armed, flush=True)
            ctypes.PyDLL(None).sleep(30)     # C call that keeps the GIL, like rcl_node_fini
        print('left the block')
    """)
    assert done.returncode == 3, done.stderr
    assert 'armed True' in done.stdout and 'left the block' not in done.stdout
    assert took < 15, f'took {took:.1f} s, the sleep was 30 s'
    # the stacks written shortly before the deadline show where the process stood
    assert 'Timeout' in done.stderr and '"<string>", line 5' in done.stderr, done.stderr


def test_a_block_that_ends_in_time_cancels_the_deadline():
    done, _ = run_python("""
        import time
        from rsdfm_ros.exit_deadline import ExitDeadline
        with ExitDeadline(0.6, warn_before=0.3) as deadline:
            pass
        print('armed after the block', deadline.armed, flush=True)
        time.sleep(1.5)                      # outlive the cancelled deadline
        print('still running')
        raise SystemExit(7)
    """)
    assert done.returncode == 7, done.stderr
    assert 'armed after the block False' in done.stdout and 'still running' in done.stdout
    assert 'Timeout' not in done.stderr


@pytest.mark.parametrize('seconds, warn_before', [(1.0, 1.0), (1.0, 0.0), (0.5, 2.0)])
def test_the_warning_must_come_before_the_deadline(seconds, warn_before):
    with pytest.raises(ValueError, match='seconds > warn_before > 0'):
        ExitDeadline(seconds, warn_before)
