"""A stand-in node for the fork server's tests: reports what it was started with, then exits.

argv: <mark> <exit code>|wait. Prints one JSON line; `wait` blocks until a signal, exiting 0 on
SIGINT (as a node does on Ctrl-C: the fork server makes SIGINT a stop request, which the node
checks).
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
    if sys.argv[-1] != 'wait':
        return int(sys.argv[-1])
    from rsdfm_ros import stop_request
    signal.pause()
    return 0 if stop_request.requested() else 1
