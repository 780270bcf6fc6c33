"""The figures of a fleet-net run (JSON-able dict) and their one-screen summary.

Scoring is bringup's (scoring.score over the recorded outputs, against the bag's ground truth
seen by the drones that flew); the per-link figures are net_figures'.
"""
from __future__ import annotations

from dataclasses import replace
import math
from pathlib import Path

from rsdfm_bringup.fleet_net_session import FleetNetOptions, FleetNetRun, node_parameters
from rsdfm_bringup.net_figures import drone_figures, link_bytes, outage_figures, pair_outages
from rsdfm_bringup.recorded import read_recorded
from rsdfm_bringup.scoring import score
from rsdfm_core.bag import read_frames
from rsdfm_core.types import Frame


def flown_frames(bag: Path, drones: list[str]) -> list[Frame]:
    """Read the bag's frames with only the views of the drones that flew.

    The ground truth that counts is what they see.
    """
    return [replace(f, views=[v for v in f.views if v.agent_id in drones])
            for f in read_frames(bag)]


def first_sent(sent_at: dict[str, dict[int, int]]) -> dict[int, int]:
    """Bag stamp -> the earliest wall time any drone's image of that frame went out."""
    out: dict[int, int] = {}
    for per_drone in sent_at.values():
        for stamp, wall in per_drone.items():
            out[stamp] = min(wall, out.get(stamp, wall))
    return out


def fleet_net_figures(run: FleetNetRun, opts: FleetNetOptions) -> dict:
    """Everything the run measured: fleet scores, link settings, per-drone links, outages."""
    rec = read_recorded(run.record_dir)
    frames = flown_frames(opts.bag, opts.drones)
    plan = run.plan
    out = {'drones_flown': list(opts.drones), 'rate': opts.rate, 'fit': opts.fit,
           'node_parameters': node_parameters(opts),
           'link': {'mbit': opts.link.mbit, 'shaped_bits_per_second': plan.wall_bits_per_second(),
                    'burst_bytes': opts.link.burst_bytes, 'queue_ms': opts.link.queue_ms,
                    'shaped_queue_ms': plan.wall_queue_ms()},
           'detections': run.detections, 'seconds': run.seconds, 'connect_s': run.connect_s,
           'settle_s': run.settle_s, 'node_exit_codes': run.node_exit_codes}
    if rec.fused_grid is not None:
        out.update(score(rec, frames, rec.fused_grid, run.offset_ns,
                         sent_at=first_sent(run.sent_at)))
    else:
        out.update({'frames': len(frames), 'frames_with_detections': 0, 'ap50': float('nan'),
                    'ap70': float('nan'), 'latency_ms_median': float('nan')})
    out['drones'] = {
        d: drone_figures(d, link_bytes(run.before[d], run.after[d]),
                         rec.diagnostics.get(f'/{d}/perception_node', {}), rec.fused_agents,
                         rec.receive_ns, run.sent_at[d], run.offset_ns)
        for d in opts.drones}
    for d, figures in out['drones'].items():     # discovery: from the links' creation to the go
        figures['startup_bytes_up'] = run.before[d].drone.tx_bytes
        figures['startup_bytes_down'] = run.before[d].ground.tx_bytes
    out['outages'] = [outage_figures(down, up, opts.drones, rec.fused_agents, rec.fused_receive_ns,
                                     run.sent_at[down[0].drone], run.offset_ns)
                      for down, up in pair_outages(run.events)]
    out['link_monitor'] = {k: v for k, v in rec.diagnostics.items() if ': link ' in k}
    fusion = rec.diagnostics.get('/fusion_node', {})
    out['fusion_refused'] = {k[8:]: int(v) for k, v in fusion.items() if k.startswith('refused.')}
    return out


def _f(x, digits: int = 0) -> str:
    return 'n/a' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{x:.{digits}f}'


def summary_lines(fig: dict) -> list[str]:
    """Format the run's figures as a short table for the terminal."""
    link = fig['link']
    lines = [f'rsdfm fleet-net: {len(fig["drones"])} drones over {link["mbit"]:g} Mbit/s links '
             f'(shaped to {link["shaped_bits_per_second"] / 1e6:.3g} Mbit/s at replay rate '
             f'{fig["rate"]:g}), codec {"fitted to the link" if fig["fit"] else "not fitted"}',
             f'  frames with detections {fig["frames_with_detections"]}/{fig["frames"]}, '
             f'AP@0.5 {_f(fig["ap50"], 3)}, AP@0.7 {_f(fig["ap70"], 3)}, '
             f'latency {_f(fig["latency_ms_median"])} ms median (wall clock)',
             '  drone  maps sent  fused  payload B/map  wire B/map  wire/payload  '
             'up bytes (counter)  latency ms']
    for name, d in fig['drones'].items():
        lines.append(f'  {name:6s} {d["maps_sent"]:9d} {d["maps_fused"]:6d} '
                     f'{_f(d["payload_bytes_per_map"]):>14s} {_f(d["wire_bytes_per_map"]):>11s} '
                     f'{_f(d["wire_to_payload"], 3):>13s} {d["wire_bytes_up"]:>19d} '
                     f'{_f(d["latency_ms_median"]):>11s}')
    for o in fig['outages']:
        others = ', '.join(f'{k}: longest pause {_f(v["max_gap_s"], 2)} s (before '
                           f'{_f(v["max_gap_before_s"], 2)} s)' for k, v in o['others'].items())
        lines.append(f'  outage {o["drone"]} {o["down_at_s"]:g}-{o["up_at_s"]:g} s: fused again '
                     f'{_f(o["fused_again_after_s"], 2)} s after the link came back (its images '
                     f'from {_f(o["fused_again_image_after_s"], 2)} s on); {others}')
    if fig['fusion_refused']:
        lines.append(f'  fusion refused {fig["fusion_refused"]}')
    failed = {k: v for k, v in fig['node_exit_codes'].items() if v != 0}
    lines.append(f'  nodes that did not stop cleanly: {failed}' if failed else
                 '  every node stopped cleanly')
    return lines
