"""Wall-clock timing helpers shared by the measurements: median / p90 of repeated runs."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Callable, Iterator

import numpy as np
import torch


def summary(samples_ms: list[float]) -> dict:
    """{'median_ms', 'p90_ms', 'mean_ms', 'runs'} of a list of milliseconds (NaN when empty)."""
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        return {
            'median_ms': float('nan'),
            'p90_ms': float('nan'),
            'mean_ms': float('nan'),
            'runs': 0,
        }
    return {'median_ms': float(np.median(a)), 'p90_ms': float(np.percentile(a, 90)),
            'mean_ms': float(a.mean()), 'runs': int(a.size)}


def repeat(fn: Callable[[], object], runs: int, warmup: int = 2) -> dict:
    """summary() of `runs` timed calls of fn after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return summary(out)


def paired(
    fa: Callable[[], object], fb: Callable[[], object], runs: int, warmup: int = 2
) -> tuple[dict, dict]:
    """summary() of fa and fb timed alternately, so a change in machine load hits both alike."""
    for _ in range(warmup):
        fa()
        fb()
    a, b = [], []
    for _ in range(runs):
        for fn, out in ((fa, a), (fb, b)):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1e3)
    return summary(a), summary(b)


class StageClock:
    """Collects milliseconds per named stage: `with clock('encoder'): ...`."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.samples.setdefault(name, []).append((time.perf_counter() - t) * 1e3)

    def summaries(self, skip: int = 0) -> dict[str, dict]:
        """summary() per stage, leaving out the first `skip` samples of each (warm-up)."""
        return {k: summary(v[skip:] if len(v) > skip else v) for k, v in self.samples.items()}


def all_threads() -> int:
    """Return the number of cores torch may use when 'all threads' are asked for."""
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    )


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with torch using n intra-op threads, restoring the previous count after."""
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def progress(msg: str) -> None:
    """One progress line on stderr (long jobs say what they are doing)."""
    print(f'bench: {msg}', file=sys.stderr, flush=True)
