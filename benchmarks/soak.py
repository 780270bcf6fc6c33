"""Loss soak, full form: 4 drones' BevFeature maps at 10 Hz for 2 minutes over a lossy link.

The link drops 20% of them and reorders others, into fusion_node and detection_node (own
processes, real DDS).

    source env.sh && python benchmarks/soak.py [--duration 120] [--json out/soak.json]

Prints a JSON summary (frames with at least one map vs. frames with detections, messages dropped
and reordered, fusion refusals, memory of each node after warm-up and at the end) and exits 1 if a
frame with a map got no detections or a node's memory moved by more than 10%. The short form is
test/ros/test_soak_short.py. Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import tempfile


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        '--duration', type=float, default=120.0, help='seconds of traffic (default 120)'
    )
    p.add_argument('--drones', type=int, default=4)
    p.add_argument('--rate', type=float, default=10.0, help='frames per second (default 10)')
    p.add_argument(
        '--drop', type=float, default=0.2, help='probability a map is lost (default 0.2)'
    )
    p.add_argument(
        '--reorder',
        type=float,
        default=0.2,
        help='probability a map is held back a frame (default 0.2)',
    )
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--json', help='also write the summary here')
    p.add_argument('--logs', help='node logs directory (default: a temporary one)')
    args = p.parse_args()
    if (
        args.duration <= 0
        or args.rate <= 0
        or not 0 <= args.drop < 1
        or not 0 <= args.reorder < 1
        or args.drones < 1
    ):
        print(
            'soak: error: need --duration, --rate > 0, --drones >= 1, 0 <= --drop, --reorder < 1',
            file=sys.stderr,
        )
        return 2
    import torch
    torch.set_num_threads(1)
    from rsdfm_bench.soak import run_soak

    logs = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix='rsdfm_soak_'))
    result = run_soak(args.duration, logs, drones=args.drones, rate_hz=args.rate, drop=args.drop,
                      reorder=args.reorder, seed=args.seed)
    summary = {**result.summary(), 'logs': str(logs)}
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + '\n')
    flat = all(abs(d) <= 0.10 for _, _, d in result.memory_drift().values())
    return 0 if not result.missing and flat else 1


if __name__ == '__main__':
    raise SystemExit(main())
