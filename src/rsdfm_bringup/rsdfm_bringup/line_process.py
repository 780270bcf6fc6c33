"""A helper process driven by lines: commands on its stdin, one-word reports on its stdout.

fleet-net's camera replays and ground observer live in other network namespaces, so they
cannot be driven over ROS from the fleet-net process; they are driven like this instead.
Their stderr goes to a log file.
"""
from __future__ import annotations

from pathlib import Path
import signal
import subprocess
import threading
import time


class LineProcess:
    """One child process; `lines` holds what it printed so far."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, 'ab')
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def said(self, word: str) -> str | None:
        """Return the first line it printed that starts with `word`, or None."""
        return next((ln for ln in self.lines if ln.split(' ')[0] == word), None)

    def wait_said(self, word: str, timeout: float) -> str | None:
        """Wait until it printed `word` (the line), it exited or `timeout` passed (None)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.said(word)
            if line is not None or self.proc.poll() is not None:
                self._reader.join(1.0)
                return self.said(word)
            time.sleep(0.05)
        return None

    def send(self, text: str) -> None:
        """Write one line to its stdin (ignored once it has gone)."""
        try:
            self.proc.stdin.write(text + '\n')
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def stop(self, timeout: float = 15.0) -> int | None:
        """Close its stdin and ask it to end (SIGINT), then insist; its exit code."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        for sig, wait in ((None, timeout), (signal.SIGINT, 5.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            if sig is not None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        return self.proc.poll()
