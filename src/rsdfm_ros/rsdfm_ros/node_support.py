"""What every rsdfm node does the same way.

Declare parameters with descriptions, load the model runtime, and run main() with a clean
shutdown and a one-line error for bad settings.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from rsdfm_ros import stop_request
from rsdfm_ros.exit_deadline import ExitDeadline

# s a node may spend destroying its DDS entities once stopped (it takes 0.1-0.3 s here)
TEARDOWN_DEADLINE_S = 4.0


class SettingError(ValueError):
    """A parameter value the node cannot run with; main() prints it as one line and exits 2."""


def declare(node: Node, name: str, default, description: str):
    """Declare one parameter with its description and return its value.

    Raises SettingError for a value of the wrong type (e.g. a string where a number is expected),
    naming the parameter and the expected type.
    """
    try:
        node.declare_parameter(
            name, default, ParameterDescriptor(name=name, description=description)
        )
    except InvalidParameterTypeException:
        raise SettingError(
            f'parameter {name} must be of type {type(default).__name__} ({description}), '
            f'got {_override_text(node, name)}'
        ) from None
    except InvalidParameterValueException as exc:
        raise SettingError(f'parameter {name}: {exc}') from None
    return node.get_parameter(name).value


def _override_text(node: Node, name: str) -> str:
    """Return the value given for `name` on the command line or in a parameters file, as text."""
    from rclpy.parameter import parameter_value_to_python

    override = node._parameter_overrides.get(name)
    if override is None:
        return 'a value of another type'
    value = override.value if hasattr(override, 'value') else parameter_value_to_python(override)
    return f'{value!r} ({type(value).__name__})'


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SettingError(message)


def declare_runtime_parameters(node: Node, engine_parts: tuple[str, ...] = (),
                               default_engine: str = 'torch') -> tuple[str, str, int, str]:
    """weights, device, threads (and engine, for a node with engine_parts): model parameters."""
    from rsdfm_core.model.config import ENGINES

    weights = declare(node, 'weights', '', 'model checkpoint; empty = the shipped weights')
    device = declare(node, 'device', 'cpu', 'torch device, e.g. cpu')
    threads = declare(
        node, 'threads', 1, 'torch threads of this node (the machine is shared by all nodes)'
    )
    check(
        isinstance(threads, int) and threads >= 1,
        f'threads must be an integer >= 1, got {threads!r}',
    )
    engine = 'torch'
    if engine_parts:
        engine = declare(
            node, 'engine', default_engine,
            f'what runs {", ".join(engine_parts)}: torch (eager) or onnxruntime (exported once '
            'per input size into ~/.cache/rsdfm/onnx and checked against eager there; eager '
            'where that fails)')
        check(engine in ENGINES, f'engine must be one of {", ".join(ENGINES)}, got {engine!r}')
    return weights, device, threads, engine


_RUNTIMES: dict[tuple, object] = {}     # nodes of one process share one model per weights file


def load_runtime(node: Node, engine_parts: tuple[str, ...] = (), default_engine: str = 'torch'):
    """Return the model Runtime for this node's weights/device/threads/engine parameters.

    engine_parts: the submodules this node runs that the engine may take (model/engine.py);
    default_engine: the engine parameter's default, the faster one for these parts.
    Nodes in one process (the one-process ground station) get the same Runtime for the same
    weights file and engine: one copy of the model in memory, read-only at inference.
    """
    from rsdfm_core.model.engine import use_engine
    from rsdfm_core.model.runtime import Runtime

    weights, device, threads, engine = declare_runtime_parameters(node, engine_parts,
                                                                  default_engine)
    try:
        key = (weights, device, threads, engine,
               os.path.getmtime(weights) if weights and os.path.isfile(weights) else 0.0)
        rt = _RUNTIMES.get(key)
        if rt is None:
            rt = _RUNTIMES[key] = Runtime.load(weights or None, device=device, threads=threads)
        engaged = (use_engine(rt.net, engine, engine_parts, rt.model_id, rt.config, threads,
                              warn=node.get_logger().warning)
                   if engine != 'torch' else [])
    except FileNotFoundError as exc:
        raise SettingError(f'parameter weights: cannot load weights {weights}: {exc}') from None
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        text = ' '.join(str(exc).split()) or type(exc).__name__
        first = text if len(text) <= 240 else text[:240] + '...'
        raise SettingError(
            f'parameter weights: cannot load weights {weights or "(shipped)"}: '
            f'they do not fit the rsdfm network (another architecture or a damaged file): {first}'
        ) from None
    node.get_logger().info(f'model {rt.model_id} on {device}, {threads} thread(s)'
                           + (f', onnxruntime for {", ".join(engaged)}' if engaged else ''))
    return rt


def run_node(node_class, args=None) -> int:
    """Run an rclpy main(): build the node, spin until Ctrl-C or shutdown.

    Bad settings are reported in one line.
    """
    return run_nodes(node_class.__name__, lambda nodes: nodes.append(node_class()), args)


def run_nodes(name: str, build: Callable[[list[Node]], None], args=None,
              executor_factory: Callable[[int], Executor] | None = None) -> int:
    """Run nodes in one process: build(nodes) appends them, one executor spins them all.

    SettingError (bad settings) is printed as one line naming `name` and gives exit code 2.
    executor_factory(n_nodes) makes the executor (default: single-threaded).
    """
    stop_request.install()
    nodes: list[Node] = []
    code = 0
    executor = None
    try:
        rclpy.init(args=args)
        if stop_request.requested():        # stopped before rclpy's handler was in place
            return code
        build(nodes)
        executor = (executor_factory or (lambda n: SingleThreadedExecutor()))(len(nodes))
        for node in nodes:
            executor.add_node(node)
        if not stop_request.requested():
            executor.spin()
    except SettingError as exc:
        print(f'{name}: error: {exc}', file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RuntimeError:
        # SIGINT/SIGTERM shut the context down while spin was between callbacks: rclpy then
        # raises from the wait set or take() (RCLError) instead of ExternalShutdownException
        if rclpy.ok():
            raise
    finally:
        # bounded: Fast DDS can deadlock here when the whole graph stops at once
        with ExitDeadline(TEARDOWN_DEADLINE_S, exit_code=code):
            if executor is not None:
                executor.shutdown(timeout_sec=1.0)
            for node in nodes:
                node.destroy_node()
            rclpy.try_shutdown()
    return code
