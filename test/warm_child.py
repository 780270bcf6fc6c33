"""A stand-in node for the fork server's tests: reports what it was started with, then exits.

argv: <mark> <exit code>|wait|unready. Prints one JSON line; `wait` blocks until a signal,
exiting 0 on SIGINT (as a node does on Ctrl-C); `unready` blocks without catching
KeyboardInterrupt, as a node does while it is still importing its modules.
"""
from __future__ import annotations

import json
import os
import signal
import sys


def main() -> int:
    print(json.dumps({
        'argv': sys.argv[1:],
        'mark': os.environ.get('WARM_MARK'),
        'torch_loaded': 'torch' in sys.modules,
        'rclpy_loaded': 'rclpy' in sys.modules,
        'own_session': os.getsid(0) == os.getpid(),
    }), flush=True)
    if sys.argv[-1] == 'unready':
        signal.pause()
        return 1
    if sys.argv[-1] != 'wait':
        return int(sys.argv[-1])
    try:
        signal.pause()
    except KeyboardInterrupt:
        return 0
    return 1
