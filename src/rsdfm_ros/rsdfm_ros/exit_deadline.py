"""A deadline for a node's DDS teardown: past it, the process ends anyway, with its exit code.

Fast DDS can deadlock while a participant is destroyed and the discovery messages of other
participants that leave at the same moment are being processed (a receive thread waits in a
participant listener for a lock the destroying thread holds). It happens when a whole graph is
stopped at once, as `ros2 launch` and the runner do: about one stop in a hundred here, and the
node then never exits until SIGKILL. rclpy keeps the GIL while it destroys a node, so no Python
thread can act; the deadline therefore lives in C: faulthandler writes where each Python thread
stands to the log shortly before the deadline, and a POSIX timer with SIGEV_THREAD calls libc's
_exit(code) at the deadline (the timer passes its value, the exit code, as _exit's argument).
The node has nothing left to save by then: its executor has stopped, its outputs are published.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import faulthandler
import sys

CLOCK_MONOTONIC = 1
SIGEV_THREAD = 2


class _SigEvent(ctypes.Structure):
    """struct sigevent as glibc lays it out on 64-bit Linux (64 bytes)."""

    _fields_ = [
        ('sigev_value', ctypes.c_void_p),           # union sigval: sival_int / sival_ptr
        ('sigev_signo', ctypes.c_int),
        ('sigev_notify', ctypes.c_int),
        ('sigev_notify_function', ctypes.c_void_p),
        ('sigev_notify_attributes', ctypes.c_void_p),
        ('_pad', ctypes.c_int * 8),
    ]


class _TimeSpec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [('it_interval', _TimeSpec), ('it_value', _TimeSpec)]


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    except OSError:
        return None


class ExitDeadline:
    """Context manager: if the block has not finished after `seconds`, the process exits.

    It exits with `exit_code`, the code the process would have returned.

    The Python stacks are written to stderr `warn_before` seconds earlier, so the log shows
    where the teardown stood. Leaving the block in time cancels both. Where the C timer is not
    available (no glibc), only the stack dump remains.
    """

    def __init__(self, seconds: float, warn_before: float = 1.0, exit_code: int = 0) -> None:
        if seconds <= warn_before or warn_before <= 0:
            raise ValueError(
                f'need seconds > warn_before > 0, got {seconds:g} and {warn_before:g}')
        self.seconds, self.warn_before, self.exit_code = seconds, warn_before, exit_code
        self._timer: ctypes.c_void_p | None = None
        self._libc = _libc()

    def __enter__(self) -> 'ExitDeadline':
        try:
            faulthandler.dump_traceback_later(self.seconds - self.warn_before, exit=False,
                                              file=sys.stderr)
        except (ValueError, OSError, AttributeError):   # stderr without a file descriptor
            pass
        self._timer = self._arm()
        return self

    def __exit__(self, *exc) -> None:
        faulthandler.cancel_dump_traceback_later()
        if self._timer is not None:
            self._libc.timer_delete(self._timer)
            self._timer = None

    @property
    def armed(self) -> bool:
        """True while the C timer that ends the process is set."""
        return self._timer is not None

    def _arm(self) -> ctypes.c_void_p | None:
        libc = self._libc
        if (libc is None or not hasattr(libc, 'timer_create')
                or ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(_SigEvent) != 64):
            return None
        event = _SigEvent()
        event.sigev_value = self.exit_code            # sival_int: _exit's argument
        event.sigev_notify = SIGEV_THREAD
        event.sigev_notify_function = ctypes.cast(libc._exit, ctypes.c_void_p).value
        timer = ctypes.c_void_p()
        if libc.timer_create(CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer)) != 0:
            return None
        whole = int(self.seconds)
        spec = _ITimerSpec(_TimeSpec(0, 0), _TimeSpec(whole, int((self.seconds - whole) * 1e9)))
        if libc.timer_settime(timer, 0, ctypes.byref(spec), None) != 0:
            libc.timer_delete(timer)
            return None
        return timer
