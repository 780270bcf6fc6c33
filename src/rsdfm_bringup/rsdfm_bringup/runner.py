"""Start every node of the fleet graph as its own process, and stop them cleanly.

This is what `ros2 launch launch/fleet.launch.py` does on a real ROS 2 install, for machines
where launch_ros is not installable. It reads the same rsdfm_core.graph description and runs
each node as `python -m <package>.<executable> --ros-args ...`, the module behind the node's
console script, so no installed `ros2 run` is needed either.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from rsdfm_bringup.dds import use_rsdfm_dds_profile
from rsdfm_core.graph import FleetGraph, NodeSpec

_REPO_SRC = Path(__file__).resolve().parents[2]   # src/ when run from a checkout


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
                 env: dict | None = None, python: str = sys.executable) -> None:
        self.graph = graph
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = node_environment(env)
        self.python = python
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, IO] = {}

    def command(self, spec: NodeSpec) -> list[str]:
        """The command line that runs one node."""
        return [self.python, '-m', spec.module, *spec.ros_arguments()]

    def start(self, names: list[str] | None = None) -> None:
        """Start the named nodes (full names such as /uav1/perception_node), or all of them."""
        for spec in self.graph.nodes:
            if names is None or spec.full_name in names:
                self.start_node(spec.full_name)

    def start_node(self, full_name: str) -> subprocess.Popen:
        """Start (or restart) one node process; its output goes to log_dir/<name>.log or to stderr."""
        spec = self.graph.node(full_name)
        old = self.processes.get(full_name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f'{full_name} is already running (pid {old.pid})')
        out = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / (full_name.strip('/').replace('/', '.') + '.log'), 'ab')
            self._logs[full_name] = out
        proc = subprocess.Popen(self.command(spec), env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes[full_name] = proc
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
        for log in self._logs.values():
            log.close()
        self._logs.clear()
        return codes

    def __enter__(self) -> 'GraphRunner':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
