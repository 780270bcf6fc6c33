"""Node processes forked from a warm interpreter that has already imported torch and rclpy.

A node's start-up is mostly imports: torch alone takes 2-2.5 s here, so a node killed mid-run
was fused again 2.7-5.8 s after its restart, most of it spent importing. The runner therefore
starts a small fork server (`python -m rsdfm_bringup.warm_start`) that imports the node modules
once; each node is then a fork of it, as Android's zygote does for apps. The server imports only
the ROS-free part (torch, scipy, OpenCV, the model code: 1.9 s of the start-up); rclpy is left
to each node (0.15 s), because loading Fast DDS starts threads that a fork would not carry over.
Nothing else runs in the server: no DDS, no torch thread pool, so every fork starts clean.
The forked node runs its module's main() with its own argv, environment, session and log file,
as `python -m <module> <argv>` would.

Protocol, one JSON object per line over a socket pair: the runner sends
{"module", "argv", "env", "log"}; the server answers {"pid"} (or {"error"}) and later
{"exit": pid, "code": returncode} when that node ends (negative: killed by that signal).
"""
from __future__ import annotations

import importlib
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback

# imported once in the server: what every node spends its start-up on; nothing that loads DDS.
# onnxruntime's import starts one thread, which a fork does not carry; forked children create
# and run their sessions without it (checked).
PRELOAD = ('torch', 'scipy.optimize', 'cv2', 'onnxruntime', 'rsdfm_core.model.runtime',
           'rsdfm_core.model.engine', 'rsdfm_core.model.align', 'rsdfm_core.admission',
           'rsdfm_core.validation', 'rsdfm_core.fusion_scheduler')
START_TIMEOUT_S = 120.0       # the server answers once its imports are done (about 3 s here)


def _run_node(module: str, argv: list[str], env: dict, log_path: str | None) -> int:
    """Body of a forked node process: detach, take its environment and log, run its main()."""
    os.setsid()                                  # its own session, like start_new_session
    os.environ.clear()
    os.environ.update(env)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    if log_path:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # SIGINT is a stop request from now on, kept also while the node imports its modules
    from rsdfm_ros import stop_request
    stop_request.install()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})     # blocked since the fork
    sys.argv = [module, *argv]
    try:
        code = importlib.import_module(module).main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    return code or 0


def _fork_node(request: dict, sock: socket.socket) -> int:
    """Fork one node; in the child run it and never return to the server loop.

    SIGINT stays blocked across the fork until the child has its handler: the server ignores
    SIGINT, and a stop sent right after the start would otherwise be lost.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    pid = os.fork()
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if pid == 0:
        code = 1
        try:
            sock.close()                             # the runner sees EOF when the server ends
            code = _run_node(request['module'], request['argv'], request['env'], request['log'])
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(code)
    return pid


def serve(sock: socket.socket, modules: tuple[str, ...] = PRELOAD) -> None:
    """Import the modules, then fork a node per request and report each one's exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the runner stops us by closing the socket
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:                            # the node will report it when it starts
            pass
    buffer = b''
    children: set[int] = set()

    def send(msg: dict) -> None:
        sock.sendall(json.dumps(msg).encode() + b'\n')

    while True:
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable:
            data = sock.recv(1 << 20)
            if not data:                             # the runner has gone
                return
            buffer += data
            while b'\n' in buffer:
                line, buffer = buffer.split(b'\n', 1)
                try:
                    pid = _fork_node(json.loads(line), sock)
                except Exception as exc:
                    send({'error': f'{type(exc).__name__}: {exc}'})
                    continue
                children.add(pid)
                send({'pid': pid})
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                send({'exit': pid, 'code': os.waitstatus_to_exitcode(status)})


UNKNOWN_EXIT = 1        # a node that outlived a crashed server has ended, with an unknown code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WarmProcess:
    """A forked node process with the part of subprocess.Popen's interface the runner uses."""

    def __init__(self, starter: 'WarmStarter', pid: int) -> None:
        self._starter, self.pid = starter, pid

    @property
    def returncode(self) -> int | None:
        return self._starter.exit_code(self.pid)

    def poll(self) -> int | None:
        return self._starter.exit_code(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        code = self._starter.wait_exit(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f'node pid {self.pid}', timeout)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class WarmStarter:
    """The runner's side: one fork server, node starts, and the exit codes it reports."""

    def __init__(self, env: dict, python: str = sys.executable) -> None:
        ours, theirs = socket.socketpair()
        self._server = subprocess.Popen(
            [python, '-m', 'rsdfm_bringup.warm_start', str(theirs.fileno())],
            pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        theirs.close()
        self._sock = ours
        self._answers: queue.Queue = queue.Queue()
        self._codes: dict[int, int] = {}
        self._changed = threading.Condition()
        self._send_lock = threading.Lock()
        self._closed = self._gone = False
        threading.Thread(target=self._read, name='rsdfm-warm-start', daemon=True).start()

    def _read(self) -> None:
        for line in self._sock.makefile('rb'):
            msg = json.loads(line)
            if 'exit' in msg:
                with self._changed:
                    self._codes[msg['exit']] = msg['code']
                    self._changed.notify_all()
            else:
                self._answers.put(msg)
        with self._changed:
            self._gone = True
            self._changed.notify_all()
        self._answers.put({'error': 'the fork server has ended'})

    def start(self, module: str, argv: list[str], env: dict, log_path: str | None) -> WarmProcess:
        """Fork one node process running `module`'s main() with argv; output to log_path.

        Raises RuntimeError when the server cannot start it (the runner then starts it cold).
        """
        request = {'module': module, 'argv': list(argv), 'env': dict(env), 'log': log_path}
        with self._send_lock:
            try:
                self._sock.sendall(json.dumps(request).encode() + b'\n')
                answer = self._answers.get(timeout=START_TIMEOUT_S)
            except (OSError, queue.Empty) as exc:
                raise RuntimeError(f'fork server did not answer: {exc}') from None
        if 'pid' not in answer:
            raise RuntimeError(answer.get('error', 'fork server failed'))
        return WarmProcess(self, answer['pid'])

    def exit_code(self, pid: int) -> int | None:
        """Return the node's exit code, or None while it runs."""
        with self._changed:
            if pid not in self._codes and self._gone and not _alive(pid):
                self._codes[pid] = UNKNOWN_EXIT      # ended after the server: code unknown
            return self._codes.get(pid)

    def wait_exit(self, pid: int, timeout: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self._codes or self._gone, timeout)
        return self.exit_code(pid)

    def close(self) -> None:
        """End the server (nodes already started keep running until stopped)."""
        if not self._closed:
            self._closed = True
            # shutdown, not only close: the reader thread's makefile() keeps the descriptor
            # open, so close() alone sent no EOF and the server was killed 5 s later
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            try:
                self._server.wait(5)
            except subprocess.TimeoutExpired:
                self._server.kill()
                self._server.wait()


def main() -> None:
    serve(socket.socket(fileno=int(sys.argv[1])))
    sys.stdout.flush()
    os._exit(0)                  # no interpreter teardown: the forked nodes own their resources


if __name__ == '__main__':
    main()
