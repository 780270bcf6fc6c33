"""Accuracy versus bandwidth: AP of single, late, raw and the codec at four budgets on one bag.

Every method goes through rsdfm evaluate's one evaluation (rsdfm_core.training.evaluate), so the
numbers are the ones `rsdfm evaluate --mode ... --budget ...` prints for the same frames. Bytes
per drone per frame become a bit rate at the fleet's 10 Hz, set beside the link rates a UAV radio
offers.
"""
from __future__ import annotations

import math
import time

from rsdfm_bench.timing import progress
from rsdfm_core.types import Frame

BUDGETS = (
    {'topk': 256, 'bits': 4},
    {'topk': 256, 'bits': 8},
    {'topk': 1024, 'bits': 8},
    {'topk': 4096, 'bits': 8},
)
LINK_MBITS = (1.0, 5.0, 20.0)
RATE_HZ = 10.0


def mbits_at(bytes_per_frame: float, rate_hz: float = RATE_HZ) -> float:
    """Bit rate in Mbit/s of one drone sending bytes_per_frame at rate_hz."""
    return bytes_per_frame * 8 * rate_hz / 1e6


def _nan_to_none(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def measure_bandwidth(rt, frames: list[Frame]) -> dict:
    """Return one row per method.

    Each row: AP@0.5 / 0.7, bytes per drone per frame, Mbit/s at 10 Hz, the links it fits.
    """
    from rsdfm_core.training.evaluate import evaluate_frames

    methods = [('single', 'single', None), ('late', 'late', None), ('raw', 'raw', None)]
    methods += [(f"codec {b['topk']}:{b['bits']}", 'collaborative', b) for b in BUDGETS]
    rows = []
    for label, mode, budget in methods:
        t0 = time.perf_counter()
        r = evaluate_frames(frames, rt, mode, budget, progress=False)
        b = (
            0.0 if mode == 'single' else r['bytes_per_agent_frame']
        )  # one drone alone sends nothing
        rate = mbits_at(b)
        rows.append(
            {
                'method': label,
                'mode': mode,
                'budget': budget,
                'ap50': _nan_to_none(r['ap50']),
                'ap70': _nan_to_none(r['ap70']),
                'bytes_per_agent_frame': b,
                'log2_bytes': math.log2(b) if b > 0 else None,
                'mbit_s_at_10hz': rate,
                'fits_link_mbit_s': [x for x in LINK_MBITS if rate <= x],
                'raw_bytes_per_agent_frame': r['raw_bytes_per_agent_frame'],
                'seconds': time.perf_counter() - t0,
            }
        )
        ap = rows[-1]['ap50']
        progress(
            f'bandwidth {label}: AP@0.5 {"n/a" if ap is None else f"{ap:.3f}"}, '
            f'{b:.0f} B per drone per frame, '
            f'{rate:.2f} Mbit/s at 10 Hz ({rows[-1]["seconds"]:.0f} s)'
        )
    return {
        'frames': len(frames),
        'drones': len(frames[0].views),
        'rate_hz': RATE_HZ,
        'link_mbit_s': list(LINK_MBITS),
        'default_budget': dict(rt.config['model']['codec']),
        'rows': rows,
    }
