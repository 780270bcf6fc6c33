"""`rsdfm demo`: simulate a short scene, run it through the whole ROS graph, score it, draw it.

Simulates a bag, starts every node as its own process, replays the bag through them at the
speed it was recorded (--rate), records the outputs, evaluates the recorded detections,
segmentation and trajectories against the ground truth, prints a one-screen summary and writes
out/demo/demo.png (the middle mapped frame) and out/demo/demo.gif (every camera frame, at the
speed it was recorded). Where the machine cannot map every image of every drone in real time,
the drones map the same instants at a lower rate (perception map_rate): by default the camera
rate halved until one frame's model work, measured here first, fits half of the cores
(rsdfm_core/model/frame_cost.py); --map-rate sets it. The demo scores the frames mapped.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import shutil
import sys
import time

from rsdfm_bringup.commands.run import add_ground_station_argument
from rsdfm_core.cli import UserError
from rsdfm_core.model.config import ENGINES

HELP = 'simulate a scene, run it through the whole ROS graph, score the outputs and draw one frame'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', default='out/demo', help='output directory (default out/demo)')
    parser.add_argument('--drones', type=int, default=4, help='number of drones (default 4)')
    parser.add_argument(
        '--frames',
        type=int,
        default=45,
        help='frames to simulate at 10 Hz (default 45: trajectories need 5 frames of history '
        'and 3 s of future)',
    )
    parser.add_argument('--width', type=int, default=640, help='image width (default 640)')
    parser.add_argument('--height', type=int, default=480, help='image height (default 480)')
    parser.add_argument('--seed', type=int, default=11, help='world seed (default 11)')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='replay speed factor (default 1.0: real time)')
    parser.add_argument(
        '--map-rate', type=float, default=None,
        help='maps per second each drone sends, the same instants on every drone (default: '
        'the camera rate, halved until the model work of a frame, measured here first, takes at '
        'most half of the cores at this replay rate; the camera rate maps every image)')
    parser.add_argument(
        '--weights', default=None, help='model checkpoint (default: shipped weights)'
    )
    add_ground_station_argument(parser)
    parser.add_argument('--engine', choices=ENGINES, default=None,
                        help='what runs the image encoder, the BEV decoder and the heads in the '
                             "nodes: torch (eager) or onnxruntime (default: each node's own in "
                             'config/rsdfm.yaml)')


def _check(args: argparse.Namespace) -> None:
    if not 1 <= args.drones <= 8:
        raise UserError(f'--drones must be between 1 and 8, got {args.drones}')
    if args.frames < 2:
        raise UserError(f'--frames must be at least 2, got {args.frames}')
    if not 0 < args.rate < math.inf:
        raise UserError(f'--rate must be > 0, got {args.rate}')
    if args.map_rate is not None and not 0 < args.map_rate < math.inf:
        raise UserError(f'--map-rate must be > 0 maps per second, got {args.map_rate}')
    if args.weights and not Path(args.weights).is_file():
        raise UserError(f'weights file not found: {args.weights}')


def _step(i: int, text: str) -> None:
    print(f'demo [{i}/5] {text}', file=sys.stderr, flush=True)


def _fmt(x: float, digits: int = 3) -> str:
    return 'n/a' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.{digits}f}'


def _carried_map_rate(bag: Path, args: argparse.Namespace, camera_hz: float) -> float:
    """Measure one frame's model work here and return the map rate these cores carry."""
    import os

    from rsdfm_core.bag import read_frames
    from rsdfm_core.model.frame_cost import carried_map_rate, fleet_frame_cost_ms, MODEL_LOAD
    from rsdfm_core.model.runtime import Runtime

    frame = next(iter(read_frames(bag)))
    try:
        rt = Runtime.load(args.weights, threads=1)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise UserError(f'weights {args.weights or "(shipped)"} cannot be loaded: {exc}') from None
    cost = fleet_frame_cost_ms(rt, frame)
    cores = len(os.sched_getaffinity(0))
    rate = carried_map_rate(cost, cores, camera_hz, args.rate)
    print(f'demo: one frame of {len(frame.views)} drones takes the model {cost:.0f} ms here; at '
          f'rate {args.rate:g} the drones map at {rate:g} Hz, at most {MODEL_LOAD:.0%} of '
          f'{cores} cores (--map-rate sets it)', file=sys.stderr, flush=True)
    return rate


def run(args: argparse.Namespace) -> int:
    _check(args)
    from rsdfm_bringup.dds import use_rsdfm_dds_profile
    use_rsdfm_dds_profile()      # before rclpy starts in this process (the replay runs here)
    import numpy as np

    from rsdfm_bringup.demo_figure import DemoPanels, draw_demo_figure, write_demo_video
    from rsdfm_bringup.recorded import read_recorded, shift_stamps
    from rsdfm_bringup.scoring import evaluated_objects, score
    from rsdfm_bringup.session import run_session, SessionError
    from rsdfm_core.bag import read_frames, write_bag
    from rsdfm_core.commands.evaluate import json_safe
    from rsdfm_core.graph import fleet_graph, GraphError
    from rsdfm_core.world.config import WorldConfig
    from rsdfm_core.world.simulator import Simulator

    t0 = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bag = out / 'bag'
    shutil.rmtree(bag, ignore_errors=True)
    _step(
        1, f'simulating {args.frames} frames of {args.drones} drones at {args.width}x{args.height}'
    )
    try:
        sim = Simulator(
            WorldConfig(
                seed=args.seed,
                drones=args.drones,
                width=args.width,
                height=args.height,
                dense_gt=False,
            )
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    write_bag(bag, sim.frames(args.frames, progress=True))

    _step(2, 'starting the graph (one process per node) and the recorder')
    camera_hz = sim.config.rate_hz
    map_rate = min(args.map_rate or _carried_map_rate(bag, args, camera_hz), camera_hz)
    # reliable camera QoS and a fusion that waits 0.75 s of stamp time for a drone's map: on 2
    # shared cores every frame of the map rate should reach the end; map_rate 0 = every image
    settings = {'threads': 1, 'image_qos': 'reliable', 'max_wait': 0.75 / args.rate,
                'map_rate': 0.0 if map_rate >= camera_hz else map_rate}
    if args.engine:
        settings['engine'] = args.engine
    try:
        graph = fleet_graph(drones=args.drones, weights=args.weights, parameters=settings,
                            ground_station=args.ground_station)
    except GraphError as exc:
        raise UserError(str(exc)) from None
    try:
        result = run_session(graph, bag, args.frames, out, args.rate,
                             map_rate=settings['map_rate'])
    except SessionError as exc:
        raise UserError(str(exc)) from None
    _step(
        3,
        f'graph ran for {result.seconds:.1f} s; {result.detections} detection messages '
        f'for {args.frames} frames',
    )

    _step(4, 'scoring the recorded outputs against the ground truth')
    rec = read_recorded(result.record_dir)
    frames = list(read_frames(bag))
    if rec.fused_grid is None:
        raise UserError(f'the graph published no fused map; see the node logs in {out / "logs"}')
    grid = rec.fused_grid
    mapped = set(result.mapped)
    figures = score(rec, frames, grid, result.offset_ns, sent_at=result.sent_at, mapped=mapped)
    figures['map_rate_hz'] = map_rate
    diag = rec.diagnostics
    refused = {
        name: {k[8:]: v for k, v in d.items() if k.startswith('refused.')}
        for name, d in diag.items()
    }
    refused = {k: v for k, v in refused.items() if v}

    _step(5, f'drawing the middle frame and a video of all {len(frames)}')
    detections = shift_stamps(rec.detections, result.offset_ns)
    # every vehicle's true position per frame, once: each frame's panels draw the next 30
    stamps = sorted(f.stamp_ns for f in frames)
    positions: dict[int, dict[int, tuple[float, float]]] = {}
    for f in frames:
        for q in f.objects:
            positions.setdefault(q.track_id, {})[f.stamp_ns] = (q.x, q.y)

    by_stamp = {f.stamp_ns: f for f in frames}
    mapped_sorted = sorted(mapped)

    def panels(frame) -> DemoPanels:
        """Return the cameras of `frame` and the fused side of the newest mapped frame up to it.

        Between maps the last one is held, as rviz2 shows the last message.
        """
        held = by_stamp[max((t for t in mapped_sorted if t <= frame.stamp_ns),
                            default=mapped_sorted[0])]
        s = held.stamp_ns + result.offset_ns
        dets = [d for d in detections.get(held.stamp_ns, []) if d.score >= 0.3]
        gt = evaluated_objects(held, grid)
        later = [t for t in stamps if t > held.stamp_ns][:30]
        futures = {}
        for o in gt:
            track = positions.get(o.track_id, {})
            pts = [track[t] for t in later if t in track]
            if pts:
                futures[o.track_id] = np.array([(o.x, o.y)] + pts)
        age = '' if held is frame else \
            f', map of frame {held.index} ({(frame.stamp_ns - held.stamp_ns) / 1e6:.0f} ms before)'
        return DemoPanels(
            frame, grid, gt, dets, rec.fused.get(s), rec.segmentation.get(s),
            rec.trajectories.get(s, []), futures, rec.fused_agents.get(s, []),
            f'rsdfm demo: frame {frame.index}{age}, {len(dets)} detections (score >= 0.3), '
            f'{len(gt)} ground-truth vehicles (AP@0.5 {_fmt(figures["ap50"], 2)} over the run)')

    middle = by_stamp[mapped_sorted[len(mapped_sorted) // 2]]
    png = draw_demo_figure(out / 'demo.png', panels(middle))
    period_s = (frames[-1].stamp_ns - frames[0].stamp_ns) / 1e9 / max(1, len(frames) - 1)
    video = write_demo_video(out / 'demo.gif', (panels(f) for f in frames), period_s or 0.1)
    total = time.monotonic() - t0
    figures['demo_seconds'] = total
    figures['refused'] = refused
    (out / 'summary.json').write_text(
        json.dumps(json_safe(figures), indent=2, allow_nan=False) + '\n'
    )
    b = figures['bytes_per_agent_frame']
    raw = figures['raw_bytes_per_agent_frame']
    lines = [
        '',
        f'rsdfm demo: {args.drones} drones, {args.frames} frames at {args.width}x{args.height}, '
        f'graph of {len(graph.nodes)} processes over DDS',
        f'  frames with detections   {figures["frames_with_detections"]}/{figures["frames"]}'
        + ('' if figures['frames'] == len(frames) else
           f' (maps at {map_rate:g} Hz: {figures["frames"]} of the {len(frames)} camera frames)'),
        f'  detection AP@0.5 / @0.7  {_fmt(figures["ap50"])} / {_fmt(figures["ap70"])}   '
        f'({figures["gt_objects"]} ground-truth boxes in the region seen by a drone)',
        f'  segmentation IoU / PQ    {_fmt(figures["iou"])} / {_fmt(figures["pq"])}',
        '  trajectory ADE           '
        + ', '.join(f'{k} {_fmt(v, 2)} m' for k, v in figures['ade'].items()),
        f'  bytes per drone per frame {_fmt(b, 0)} '
        f'(log2 {_fmt(math.log2(b) if b == b and b > 0 else float("nan"), 1)}),'
        f' {_fmt(raw / b if b == b and b > 0 else float("nan"), 1)}x smaller than raw'
        ' float32 maps',
        f'  end-to-end latency       {_fmt(figures["latency_ms_median"], 0)} ms median'
        ' (images published to detections'
        f' recorded, replay at rate {args.rate:g})',
        f'  refused inputs           {refused or "none"}',
        f'  picture                  {png}',
        f'  video (real time)        {video}',
        f'  summary                  {out / "summary.json"}; node logs in {out / "logs"}',
        f'  took                     {total:.0f} s',
    ]
    print('\n'.join(lines))
    return 0 if figures['frames_with_detections'] == figures['frames'] else 1
