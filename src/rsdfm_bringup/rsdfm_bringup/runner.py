"""Start every node of the fleet graph as its own process, and stop them cleanly.

This is what `ros2 launch launch/fleet.launch.py` does on a real ROS 2 install, for machines
where launch_ros is not installable. It reads the same rsdfm_core.graph description and runs
each node as `python -m <package>.<executable> --ros-args ...`, the module behind the node's
console script, so no installed `ros2 run` is needed either. By default the node processes are
forked from a server that has already imported torch and rclpy (warm_start.py): the same
command line's main(), started in a fraction of a second instead of about three, which is what
brings a crashed node back within seconds. Before such a restart a participant placeholder
(participant_placeholder.py) takes the dead node's DDS participant ID, so the new process is not
mistaken by the surviving ones for the participant that died (which cost about 3 s of data).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO

from rsdfm_bringup.dds import use_rsdfm_dds_profile
from rsdfm_bringup.participant_placeholder import placeholder_argv
from rsdfm_bringup.respawn import Backoff, should_respawn
from rsdfm_bringup.warm_start import WarmProcess, WarmStarter
from rsdfm_core.graph import FleetGraph, NodeSpec

_REPO_SRC = Path(__file__).resolve().parents[2]   # src/ when run from a checkout
PLACEHOLDER_WAIT_S = 2.0      # a restart waits at most this long past its back-off for it


def node_environment(base: dict | None = None) -> dict:
    """Environment for node processes: the node packages importable even when not installed."""
    env = dict(os.environ if base is None else base)
    extra = []
    for pkg in ('rsdfm_perception', 'rsdfm_fusion', 'rsdfm_ros', 'rsdfm_core', 'rsdfm_bringup',
                'rsdfm_bench'):
        if importlib.util.find_spec(pkg) is None and (_REPO_SRC / pkg / pkg).is_dir():
            extra.append(str(_REPO_SRC / pkg))
    if extra:
        env['PYTHONPATH'] = os.pathsep.join(extra + [p for p in [env.get('PYTHONPATH')] if p])
    env.setdefault('PYTHONUNBUFFERED', '1')
    use_rsdfm_dds_profile(env)
    return env


class GraphRunner:
    """The processes of one running fleet graph, by fully qualified node name."""

    def __init__(self, graph: FleetGraph, log_dir: str | Path | None = None,
                 env: dict | None = None, python: str = sys.executable,
                 respawn: bool = False, backoff: Backoff | None = None,
                 warm: bool = True) -> None:
        self.graph = graph
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = node_environment(env)
        self.python = python
        # warm: fork nodes from a pre-imported server; only where the command is the plain one
        # (a subclass that wraps the command line, e.g. in a network namespace, needs exec)
        self.warm = warm and type(self).command is GraphRunner.command
        self._fork_server: WarmStarter | None = None      # started by the first node start
        self.processes: dict[str, subprocess.Popen | WarmProcess] = {}
        self._logs: dict[str, IO] = {}
        self._started_at: dict[str, float] = {}
        # respawn: a crashed node is started again after a back-off (launch's respawn=True)
        self.respawn = respawn
        self.backoff = backoff or Backoff()
        self.restarts: dict[str, int] = {}
        self._due: dict[str, float] = {}            # node -> monotonic time of its restart
        # node -> (placeholder process, its ready file) holding the DDS participant ID of the
        # node's last crashed process; earlier ones stay in _held until their hold is over
        self._placeholders: dict[str, tuple[subprocess.Popen | WarmProcess, Path]] = {}
        self._held: list[subprocess.Popen | WarmProcess] = []
        self._placeholder_dir: tempfile.TemporaryDirectory | None = None
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._watcher: threading.Thread | None = None

    def command(self, spec: NodeSpec, module: str | None = None,
                argv: list[str] | None = None) -> list[str]:
        """Return the command line that runs one node (or `module argv` where it would run)."""
        return [self.python, '-m', module or spec.module,
                *(spec.ros_arguments() if argv is None else argv)]

    def start(self, names: list[str] | None = None) -> None:
        """Start the named nodes (full names such as /uav1/perception_node), or all of them.

        With respawn, a watcher thread restarts those that crash.
        """
        for spec in self.graph.nodes:
            if names is None or spec.full_name in names:
                self.start_node(spec.full_name)
        if self.respawn and self._watcher is None:
            self._stopping.clear()
            self._watcher = threading.Thread(target=self._watch, name='rsdfm-respawn', daemon=True)
            self._watcher.start()

    def _watch(self, period: float = 0.1) -> None:
        while not self._stopping.wait(period):
            self.supervise()

    def supervise(self, now: float | None = None) -> list[str]:
        """Schedule crashed nodes for a restart after their back-off and restart those due.

        Returns the nodes restarted now. Exit code 2 (bad settings) is not restarted.
        """
        now = time.monotonic() if now is None else now
        restarted = []
        with self._lock:
            if self._stopping.is_set():
                return restarted
            for name, proc in list(self.processes.items()):
                code = proc.poll()
                if name not in self._due and should_respawn(code):
                    delay = self.backoff.next_delay(name, now - self._started_at.get(name, now))
                    self._due[name] = now + delay
                    print(f'rsdfm: {name} exited with {code}; restarting in {delay:g} s',
                          file=sys.stderr, flush=True)
                    self._hold_participant_slot(name)
            for name, due in list(self._due.items()):
                waited = now >= due + PLACEHOLDER_WAIT_S
                if now >= due and (self._placeholder_ready(name) or waited):
                    del self._due[name]
                    self.start_node(name)
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    restarted.append(name)
        return restarted

    def _hold_participant_slot(self, full_name: str) -> None:
        """Start a placeholder participant that takes the DDS participant ID `full_name` left."""
        self._held = [p for p in self._held if p.poll() is None]
        if self._placeholder_dir is None:
            self._placeholder_dir = tempfile.TemporaryDirectory(prefix='rsdfm-placeholders-')
        ready = Path(self._placeholder_dir.name) / (full_name.strip('/').replace('/', '.')
                                                    + f'.{time.monotonic_ns()}.ready')
        _, module, *argv = placeholder_argv(ready)
        log = self.log_path(full_name)
        log = None if log is None else log.with_suffix('.placeholder.log')
        try:
            proc = self._spawn(self.graph.node(full_name), module, argv, log)
        except (OSError, RuntimeError) as exc:
            print(f'rsdfm: no participant placeholder for {full_name} ({exc}); its restart may '
                  'wait about 3 s for data', file=sys.stderr, flush=True)
            return
        self._placeholders[full_name] = (proc, ready)
        self._held.append(proc)

    def _placeholder_ready(self, full_name: str) -> bool:
        """Return True once the node's placeholder holds its participant (or it has none)."""
        held = self._placeholders.get(full_name)
        return held is None or held[1].exists() or held[0].poll() is not None

    def _spawn(self, spec: NodeSpec, module: str, argv: list[str],
               log: Path | None) -> subprocess.Popen | WarmProcess:
        """Start `python -m module argv` where `spec`'s node runs (warm fork if there is one)."""
        if self.warm and self._fork_server is not None:
            return self._fork_server.start(module, argv, self.env,
                                           None if log is None else str(log))
        out = open(log, 'ab') if log is not None else None
        try:
            return subprocess.Popen(self.command(spec, module, argv), env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT if out else None,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            if out is not None:
                out.close()

    def log_path(self, full_name: str) -> Path | None:
        """Return the node's log file (log_dir/<name>.log), or None when output goes to stderr."""
        if not self.log_dir:
            return None
        return self.log_dir / (full_name.strip('/').replace('/', '.') + '.log')

    def start_node(self, full_name: str) -> subprocess.Popen | WarmProcess:
        """Start (or restart) one node process; output goes to log_dir/<name>.log or to stderr."""
        spec = self.graph.node(full_name)
        old = self.processes.get(full_name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f'{full_name} is already running (pid {old.pid})')
        log = self.log_path(full_name)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
        if self.warm:
            try:
                if self._fork_server is None:
                    self._fork_server = WarmStarter(self.env, self.python)
                proc = self._fork_server.start(spec.module, spec.ros_arguments(), self.env,
                                               None if log is None else str(log))
            except (OSError, RuntimeError) as exc:
                print(f'rsdfm: cannot fork {full_name} from the warm server ({exc}); '
                      'starting node processes cold from here on', file=sys.stderr, flush=True)
                self.warm = False
            else:
                self.processes[full_name] = proc
                self._started_at[full_name] = time.monotonic()
                return proc
        out = None
        if log is not None:
            out = open(log, 'ab')
            self._logs[full_name] = out
        proc = subprocess.Popen(
            self.command(spec),
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes[full_name] = proc
        self._started_at[full_name] = time.monotonic()
        return proc

    def kill_node(self, full_name: str) -> None:
        """Kill one node at once (SIGKILL), as a crash would; restart it with start_node."""
        proc = self.processes[full_name]
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop_node(self, full_name: str, timeout: float = 10.0) -> int | None:
        """Ask one node to shut down (SIGINT), then insist (SIGTERM, SIGKILL) after timeout."""
        proc = self.processes.get(full_name)
        if proc is None:
            return None
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if proc.poll() is not None:
                break
            proc.send_signal(sig)
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        return proc.poll()

    def exited(self) -> dict[str, int]:
        """Nodes whose process has ended, with their exit codes."""
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    def stop(self, timeout: float = 10.0) -> dict[str, int | None]:
        """Stop every node: SIGINT to all at once, then SIGTERM/SIGKILL to the stragglers."""
        with self._lock:
            self._stopping.set()                    # no respawn from here on
            self._due.clear()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        codes = {}
        for name in self.processes:
            proc = self.processes[name]
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            codes[name] = self.stop_node(name, timeout=0.1)
        for proc in self._held:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self._held:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._held.clear()
        self._placeholders.clear()
        if self._placeholder_dir is not None:
            self._placeholder_dir.cleanup()
            self._placeholder_dir = None
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        if self._fork_server is not None:
            self._fork_server.close()
            self._fork_server = None
        return codes

    def __enter__(self) -> 'GraphRunner':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
