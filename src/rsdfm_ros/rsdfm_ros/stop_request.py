"""SIGINT as a stop request that is never lost: recorded at any moment, acted on by run_nodes.

Python's default handler raises KeyboardInterrupt at whatever line runs next. A node stopped
while it started up then either ended with a traceback in the middle of its construction, or
lost the request altogether when the exception landed in a callback whose exceptions Python
ignores (an import lock's weakref callback), and then ran on. Here the first SIGINT only sets a
flag: run_nodes checks it once rclpy is initialised and before spinning, and from rclpy.init on
rclpy's own handler also shuts the context down, which ends the spin or the construction. A
second SIGINT is the user insisting: the process exits at once, without cleaning up.
No ROS import here: the runner's fork server installs it before a node imports anything.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

FORCED_EXIT_CODE = 130          # 128 + SIGINT, as a shell reports a process ended by Ctrl-C

_requested = threading.Event()


def _on_sigint(signum, frame) -> None:
    if _requested.is_set():
        print('interrupted twice: exiting without cleaning up', file=sys.stderr, flush=True)
        os._exit(FORCED_EXIT_CODE)
    _requested.set()


def install() -> None:
    """Make SIGINT a stop request for this process (keeps one already recorded)."""
    signal.signal(signal.SIGINT, _on_sigint)


def requested() -> bool:
    """Tell whether SIGINT has come since install()."""
    return _requested.is_set()
