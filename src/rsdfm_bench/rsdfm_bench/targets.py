"""The model and graph targets, checked against the measured figures (reported, never asserted)."""
from __future__ import annotations

import math

LATENCY_TARGET_MS = 300.0
BUDGET_TARGET_BYTES = 64 * 1024
ONNX_TARGET_SPEEDUP = 1.5


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def check_targets(results: dict) -> list[dict]:
    """[{'target', 'measured', 'holds' (True/False/None = not measured), 'note'}]."""
    out = []
    sc = results.get('scaling') or {}
    g4 = next((r.get('graph') for r in sc.get('rows', []) if r['drones'] == 4), None)
    m4 = next((r.get('modelled_e2e_ms') for r in sc.get('rows', []) if r['drones'] == 4), None)
    if g4 and _finite(g4.get('median_ms')):
        out.append(
            {
                'target': 'end-to-end latency, 4 drones at 10 Hz, '
                f'median < {LATENCY_TARGET_MS:.0f} ms '
                '(all nodes on this machine)',
                'measured': f"{g4['median_ms']:.0f} ms median, {g4['p90_ms']:.0f} ms p90, "
                f"{g4['delivered']}/{g4['frames']} frames delivered",
                'holds': g4['median_ms'] < LATENCY_TARGET_MS,
                'note': graph_note(g4, results),
            }
        )
    else:
        out.append(
            {
                'target': 'end-to-end latency, 4 drones at 10 Hz, '
                f'median < {LATENCY_TARGET_MS:.0f} ms '
                '(all nodes on this machine)',
                'measured': 'not measured in this run',
                'holds': None,
                'note': 'the graph ran only with '
                + ', '.join(str(r['drones']) for r in sc.get('rows', []) if r.get('graph'))
                + ' drones'
                if sc
                else '',
            }
        )
    rt = sc.get('real_time')
    if rt and _finite(rt.get('median_ms')):
        share = rt['delivered'] / max(1, rt['frames'])
        out.append(
            {
                'target': f"4 drones at 10 Hz mapping at {rt['map_rate_hz']:g} Hz (map_rate, "
                "rsdfm demo's real time on 2 cores): >= 95 % of the mapped frames delivered, "
                f'median < {LATENCY_TARGET_MS:.0f} ms',
                'measured': f"{rt['median_ms']:.0f} ms median, {rt['p90_ms']:.0f} ms p90, "
                f"{rt['delivered']}/{rt['frames']} mapped frames delivered",
                'holds': rt['median_ms'] < LATENCY_TARGET_MS and share >= 0.95,
                'note': f"every drone maps the first image of each {1e3 / rt['map_rate_hz']:.0f} "
                'ms slot of capture time, the same instants: fused output at '
                f"{rt['map_rate_hz']:g} Hz, not 10 Hz (row above); nodes' processing "
                f"{rt.get('cpu_ms_per_frame', float('nan')):.0f} ms per mapped frame",
            }
        )
    if _finite(m4):
        out.append(
            {
                'target': 'end-to-end latency, 4 drones, each drone on its own computer, '
                f'< {LATENCY_TARGET_MS:.0f} ms',
                'measured': f'{m4:.0f} ms (drone side + transport + fusion side medians)',
                'holds': m4 < LATENCY_TARGET_MS,
                'note': 'modelled from measured stages',
            }
        )
    tr = (results.get('transport') or {}).get('hlf-v1')
    bw = results.get('bandwidth') or {}
    default = next((r for r in bw.get('rows', []) if r['budget'] and bw.get('default_budget')
                    and r['budget']['topk'] == bw['default_budget']['topk']
                    and r['budget']['bits'] == bw['default_budget']['bits']), None)
    size = tr['payload_bytes'] if tr else (default['bytes_per_agent_frame'] if default else None)
    if size is not None:
        ap = f", AP@0.5 {default['ap50']:.3f}" if default and default['ap50'] is not None else ''
        out.append(
            {
                'target': (
                    'default codec budget <= 64 KB per drone per frame (< 5 Mbit/s at 10 Hz)'
                ),
                'measured': f'{size / 1024:.1f} KB, {size * 80 / 1e6:.2f} Mbit/s{ap}',
                'holds': size <= BUDGET_TARGET_BYTES,
                'note': '',
            }
        )
    ox = results.get('onnx') or {}
    if ox.get('ok'):
        s1 = ox['threads_1']['speedup']
        sa = ox['threads_all']['speedup']
        why = '' if s1 >= ONNX_TARGET_SPEEDUP else onnx_reason(ox)
        out.append(
            {
                'target': f'ONNX Runtime drone side >= {ONNX_TARGET_SPEEDUP}x faster '
                'than eager PyTorch',
                'measured': f'{s1:.2f}x with 1 thread, {sa:.2f}x with all threads; '
                f'outputs agree: {ox["agree"]} '
                f'(max abs diff {ox["max_abs_diff"]:.1e})',
                'holds': s1 >= ONNX_TARGET_SPEEDUP,
                'note': why,
            }
        )
    elif ox:
        out.append(
            {
                'target': f'ONNX Runtime drone side >= {ONNX_TARGET_SPEEDUP}x faster '
                'than eager PyTorch',
                'measured': 'export failed',
                'holds': False,
                'note': ox.get('error', ''),
            }
        )
    ov = results.get('overhead') or {}
    rows = [r for r in ov.get('rows', []) if _finite(r.get('ratio'))]
    if rows:
        worst = max(rows, key=lambda r: r['ratio'])
        over = [r for r in rows if r['ratio'] > ov['target']]
        out.append(
            {
                'target': f"each node's processing <= {ov['target']:g}x the in-process time of "
                'its work (1 drone, cores to spare)',
                'measured': ', '.join(f"{r['node'].rsplit('/', 1)[-1]} {r['ratio']:.2f}x"
                                      for r in rows),
                'holds': not over,
                'note': (f"worst: {worst['node']} {worst['node_ms']:.1f} ms against "
                         f"{worst['in_process_ms']:.1f} ms in process" if over else ''),
            }
        )
    out += ground_station_targets(results.get('ground_station') or {})
    return out


def ground_station_targets(gs: dict) -> list[dict]:
    """Check the ground station alone at 16 drones (frames delivered, median), per layout."""
    from rsdfm_bench.ground_station import TARGET_DELIVERED, TARGET_DRONES, TARGET_MEDIAN_MS

    out = []
    for layout in gs.get('layouts', []):
        row = next((r for r in gs['rows'] if r['layout'] == layout
                    and r['drones'] == TARGET_DRONES), None)
        if row is None:
            continue
        target = (f'ground station alone ({layout.replace("_", " ")}), {TARGET_DRONES} drones '
                  f'at 10 Hz: >= {TARGET_DELIVERED:.0%} of frames delivered, median < '
                  f'{TARGET_MEDIAN_MS:.0f} ms')
        if not _finite(row.get('median_ms')):
            out.append({'target': target, 'measured': row.get('error', 'no frame delivered'),
                        'holds': False, 'note': ''})
            continue
        fit = (gs.get('fits') or {}).get(layout, {}).get('cpu_fit') or {}
        share = row['delivered'] / row['frames']
        out.append({
            'target': target,
            'measured': f"{row['delivered']}/{row['frames']} delivered, {row['median_ms']:.0f} ms "
                        f"median, {row['p90_ms']:.0f} ms p90, {row['cpu_ms_per_frame']:.0f} ms "
                        'CPU per frame',
            'holds': share >= TARGET_DELIVERED and row['median_ms'] < TARGET_MEDIAN_MS,
            'note': (f"CPU per frame {fit['fixed_ms']:.0f} ms + {fit['per_drone_ms']:.1f} ms per "
                     'drone (linear fit): beyond the 200 ms of 2 cores per 100 ms frame, frames '
                     'queue' if fit and row['cpu_ms_per_frame'] > 100.0 * 2 * 0.9 else ''),
        })
    return out


def onnx_reason(ox: dict) -> str:
    """Say why the ONNX speed-up stays below the target.

    The reason comes from the split of the time into encoder and lift/splat.
    """
    enc = ox.get('encoder_only') or {}
    if not enc.get('ok'):
        return 'below the target in this run'
    full_e, full_o = (
        ox['threads_1']['eager']['median_ms'],
        ox['threads_1']['onnxruntime']['median_ms'],
    )
    enc_e, enc_o = enc['eager']['median_ms'], enc['onnxruntime']['median_ms']
    return (
        f"the encoder alone runs {enc['speedup']:.2f}x faster ({enc_e:.1f} -> {enc_o:.1f} ms); "
        'the lifting (height softmax, masked gather, scatter-add splat) takes '
        f'{full_e - enc_e:.1f} ms eager and {full_o - enc_o:.1f} ms in onnxruntime: '
        'ONNX gains on the convolutions only, and the lifting is '
        f'{100 * (full_e - enc_e) / full_e:.0f} % of the eager time'
    )


def graph_note(g: dict, results: dict) -> str:
    """Say what the graph's CPU demand means for its latency on this machine."""
    note = 'real graph over DDS'
    sc = results.get('scaling') or {}
    row = next((r for r in sc.get('rows', []) if r['drones'] == g.get('drones')), None)
    if row and sc.get('drone_side'):
        need = g['drones'] * sc['drone_side']['median_ms'] + row['fusion_side']['median_ms']
        cores = sc.get('cores', 2)
        note += (
            f'; the model alone needs {need:.0f} ms of compute per frame '
            f'({need / cores:.0f} % of the {cores} cores at 10 Hz)'
        )
    if g.get('cpu_ms_per_frame'):
        note += (
            f"; the nodes' processing adds up to {g['cpu_ms_per_frame']:.0f} ms per frame, "
            'so frames queue and drop'
        )
    if (results.get('meta') or {}).get('competing'):
        note += '; other jobs were sharing the cores'
    return note
