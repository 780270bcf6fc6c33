"""Inference engines: the network's convolution stacks run by PyTorch eager or by ONNX Runtime.

ONNX Runtime runs this model's convolutions faster than eager PyTorch on one CPU thread (rsdfm
bench, "Drone side: ONNX Runtime vs PyTorch eager"). `use_engine` swaps chosen submodules of a
loaded network (the image encoder on a drone, the heads at the ground station) for
`OrtModule`s. One of them exports its module the first time it sees an input shape
(torch.onnx dynamo exporter, opset 18) and checks the exported file's outputs against eager on
that first input and on a second one (seeded noise added, so an export that baked its example
in as a constant is caught), to the bench's tolerance. Only a file that passed enters the cache
directory, keyed by model id, part, shape and onnxruntime version; one that failed leaves a
`.rejected` note with the reason there instead. So a restarted node loads a checked file in a
few milliseconds (the check costs about 0.3 s of eager and ORT runs per part, which a
respawned node should not pay again) and does not export a rejected part again. If
onnxruntime is missing, the export fails or the outputs disagree, the part stays eager and the
reason is reported once: eager is always the fallback, never a crash.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from rsdfm_core.model.config import ENGINES, region_grid

RTOL, ATOL = 1e-3, 1e-4          # as rsdfm bench: |onnx - eager| <= ATOL + RTOL * |eager|
# The parts ONNX Runtime runs faster here (one thread, torch 2.13, onnxruntime 1.31; eager and
# ORT alternating, 30 ms apart as frames come): the image encoder (1.5-2.4x, the drone side's),
# the BEV decoder (48 -> 35 ms, 1.36x) and the heads (det_head 10.6 -> 6.4 ms, seg_head 5.1 ->
# 4.2, traj_head 50 -> 32). The ground station's parts see one input size, the fusion region,
# so they run in ONNX Runtime by default; the encoder's input grows with altitude above the
# training range (an export of seconds per new size), so the drone side defaults to eager. The
# attention fusion takes any number of drones and ran no faster in ONNX Runtime: it stays eager.
DRONE_PARTS = ('encoder',)
FUSION_PARTS = ('decoder',)
GROUND_PARTS = FUSION_PARTS + ('det_head', 'seg_head', 'traj_head')   # onnxruntime by default


def export_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path,
                input_names: list[str], output_names: list[str] | None = None) -> None:
    """Export `module` for these inputs as one ONNX file (dynamo exporter, opset 18).

    The exporter's chatter is kept off stdout. The legacy TorchScript exporter turns the
    splat's index_add_ into a ScatterND that overwrites duplicates; the dynamo one keeps the add.
    """
    with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        torch.onnx.export(module, tuple(inputs), str(path), input_names=input_names,
                          output_names=output_names, dynamo=True, opset_version=18,
                          external_data=False)


def ort_session(path: Path, threads: int):
    """Return an onnxruntime CPU session of `path` with `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


def _other_input(inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Return the inputs moved by seeded noise: an export that baked them in is caught."""
    g = torch.Generator().manual_seed(1)
    return tuple(x + 0.1 * torch.randn(x.shape, generator=g, dtype=x.dtype)
                 if x.is_floating_point() else x for x in inputs)


def cache_dir() -> Path:
    """Return where exported ONNX files are kept: $RSDFM_ONNX_CACHE, else ~/.cache/rsdfm/onnx."""
    env = os.environ.get('RSDFM_ONNX_CACHE')
    return Path(env) if env else Path.home() / '.cache' / 'rsdfm' / 'onnx'


class OrtModule(nn.Module):
    """A submodule run by ONNX Runtime, exported per input shape; eager where that fails."""

    def __init__(self, eager: nn.Module, name: str, model_id: str, threads: int = 1,
                 directory: Path | None = None, warn: Callable[[str], None] = print) -> None:
        super().__init__()
        self.eager, self.name, self.model_id = eager, name, model_id
        self.threads, self.directory, self.warn = int(threads), directory or cache_dir(), warn
        self._sessions: dict[tuple, object] = {}    # input shapes -> session, or None (eager)

    def prepare(self, *inputs: torch.Tensor) -> bool:
        """Get these input shapes' session ready without running it; False: they run eager.

        A node calls it at start-up: loading a cached file takes milliseconds, a first run of
        the part as long again as the part itself.
        """
        key = tuple(tuple(x.shape) for x in inputs)
        if key not in self._sessions:
            self._sessions[key] = self._session_for(key, inputs)
        return self._sessions[key] is not None

    def forward(self, *inputs: torch.Tensor):
        self.prepare(*inputs)
        session = self._sessions[tuple(tuple(x.shape) for x in inputs)]
        if session is None or any(x.requires_grad for x in inputs):
            return self.eager(*inputs)
        outs = session.run(None, {f'input{i}': x.detach().cpu().numpy()
                                  for i, x in enumerate(inputs)})
        tensors = tuple(torch.from_numpy(o) for o in outs)
        return tensors[0] if len(tensors) == 1 else tensors

    def engaged(self) -> bool:
        """Tell whether any input shape runs in ONNX Runtime (False: all eager so far)."""
        return any(s is not None for s in self._sessions.values())

    def _session_for(self, key: tuple, inputs: tuple[torch.Tensor, ...]):
        """Export (or load) and check the ONNX file for these shapes; None = stay eager."""
        try:
            import onnxruntime      # missing: say so once, stay eager
        except ImportError:
            self.warn(f'engine onnxruntime: onnxruntime is not installed; {self.name} runs eager')
            return None
        path = self.cached_path(key, onnxruntime.__version__)
        rejected = path.with_suffix('.rejected')
        if rejected.is_file():
            self.warn(f'engine onnxruntime: {self.name} runs eager: {rejected.read_text()} '
                      f'(checked earlier; delete {rejected} to export and check it again)')
            return None
        part = path.with_suffix(f'.{os.getpid()}.part')
        try:
            if path.is_file():
                return ort_session(path, self.threads)
            self.directory.mkdir(parents=True, exist_ok=True)
            export_onnx(self.eager.eval(), inputs, part,
                        [f'input{i}' for i in range(len(inputs))])
            session = ort_session(part, self.threads)
            agree = all(self._agrees(session, feed) for feed in (inputs, _other_input(inputs)))
        except Exception as exc:       # any failure of export or runtime: stay eager, say why
            part.unlink(missing_ok=True)
            self.warn(f'engine onnxruntime: {self.name} runs eager: {type(exc).__name__}: '
                      f'{str(exc).splitlines()[0][:200] if str(exc) else ""}')
            return None
        if not agree:
            reason = f'it disagrees with eager beyond {ATOL:g} + {RTOL:g} x |eager|'
            part.unlink(missing_ok=True)
            rejected.write_text(reason)
            self.warn(f'engine onnxruntime: {self.name} runs eager: {reason}')
            return None
        part.replace(path)      # checked whole files only: another process may read the cache
        return session

    def cached_path(self, key: tuple, ort_version: str) -> Path:
        """Return the cache file of these input shapes (model id _ part _ hash of the rest)."""
        shape = hashlib.sha1(repr((key, ort_version, 'checked')).encode()).hexdigest()[:10]
        return self.directory / f'{self.model_id}_{self.name}_{shape}.onnx'

    def _agrees(self, session, inputs: tuple[torch.Tensor, ...]) -> bool:
        """Tell whether the session gives eager's outputs on these inputs (bench tolerance)."""
        with torch.no_grad():
            want = self.eager(*inputs)
        want = want if isinstance(want, tuple) else (want,)
        got = session.run(None, {f'input{i}': x.detach().cpu().numpy()
                                 for i, x in enumerate(inputs)})
        return len(got) == len(want) and all(
            w.shape == g.shape and np.allclose(g, w.numpy(), rtol=RTOL, atol=ATOL)
            for w, g in zip(want, got))


def example_inputs(module: nn.Module, config: dict, part: str) -> tuple[torch.Tensor, ...]:
    """Return a seeded random input of the size a part sees with the model's own settings.

    The image size for the encoder, the model's region (with the part's own input channels)
    for a head: what a node prepares at start-up, so its first frame does not wait for an
    export.
    """
    g = torch.Generator().manual_seed(0)
    if part == 'encoder':
        w, h = config['model']['image_size']
        return (torch.rand(1, 3, int(h), int(w), generator=g),)
    region = region_grid(config['model'])
    channels = next(m for m in module.modules() if isinstance(m, nn.Conv2d)).in_channels
    return (torch.randn(1, channels, region.rows, region.cols, generator=g),)


def use_engine(net: nn.Module, engine: str, parts: tuple[str, ...], model_id: str,
               config: dict, threads: int = 1,
               warn: Callable[[str], None] = print) -> list[str]:
    """Run the named submodules of `net` with `engine`; return the parts now in ONNX Runtime.

    Each part is exported and checked now, for the input size of the model's own settings
    (`config`); other sizes follow on first use. 'torch' puts every part back to eager.
    """
    if engine not in ENGINES:
        raise ValueError(f'engine must be one of {", ".join(ENGINES)}, got {engine!r}')
    engaged = []
    for name in parts:
        module = getattr(net, name)
        eager = module.eager if isinstance(module, OrtModule) else module
        if engine == 'torch':
            setattr(net, name, eager)
            continue
        if not isinstance(module, OrtModule):       # nodes of one process share the net
            module = OrtModule(eager, name, model_id, threads, warn=warn)
            setattr(net, name, module)
            with torch.no_grad():
                module.prepare(*example_inputs(eager, config, name))
        if module.engaged():
            engaged.append(name)
    return engaged


def with_ground_engines(rt, warn: Callable[[str], None] = print) -> tuple:
    """Return a copy of `rt` whose ground-station parts run as the nodes run them by default.

    GROUND_PARTS in ONNX Runtime, the rest eager; `rt` itself is left as it was (the engine
    swaps parts of the net it is given). Also return the parts now in ONNX Runtime. The bench
    compares nodes against this, and `make setup` uses it to fill the cache.
    """
    import copy

    twin = copy.copy(rt)
    twin.net = copy.deepcopy(rt.net)
    return twin, use_engine(twin.net, 'onnxruntime', GROUND_PARTS, rt.model_id, rt.config,
                            warn=warn)


def prepare_default_parts(weights: str | None = None) -> list[str]:
    """Export and check the parts nodes run in ONNX Runtime by default (GROUND_PARTS).

    For these weights (None: the shipped ones), so that a node's first start finds them cached
    (`make setup` calls it once). Return the parts now cached.
    """
    from rsdfm_core.model.runtime import Runtime

    return with_ground_engines(Runtime.load(weights, threads=1))[1]
