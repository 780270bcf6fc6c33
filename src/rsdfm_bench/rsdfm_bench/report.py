"""RESULTS.md and the PNG plots of one bench run, from its JSON-able results dict."""
from __future__ import annotations

import math
from pathlib import Path

from rsdfm_bench.stages import DRONE_STAGES, FUSION_STAGES, stage_shares

PLOTS = {
    'stages': 'bench_stages.png',
    'scaling': 'bench_scaling.png',
    'bandwidth': 'bench_bandwidth.png',
}


def _f(x, digits: int = 1, unit: str = '') -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return 'n/a'
    return f'{x:.{digits}f}{unit}'


def _holds(h) -> str:
    return {True: 'yes', False: 'no', None: 'not measured'}[h]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)] + [
        '| ' + ' | '.join(r) + ' |' for r in rows
    ]


def plot_stages(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(DRONE_STAGES) + list(FUSION_STAGES)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 5))
    for off, key, label in (
        (-0.2, 'threads_1', '1 thread'),
        (0.2, 'threads_all', f"{res['all_threads']} threads"),
    ):
        st = res[key]['stages']
        ax.barh(y + off, [st[n]['median_ms'] for n in names], 0.4, label=label,
                xerr=[[0] * len(names), [st[n]['p90_ms'] - st[n]['median_ms'] for n in names]])
    ax.set_yticks(y, [('drone: ' if n in DRONE_STAGES else 'fusion: ') + n for n in names])
    ax.invert_yaxis()
    ax.set_xlabel('ms (median, whisker to p90)')
    ax.set_title(
        'Per-stage time\n'
        f"drone stages per image, fusion stages per frame of {res['drones']} drones"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    ns = [r['drones'] for r in res['rows']]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.loglog(ns, [r['fusion_side']['median_ms'] for r in res['rows']], 'o-',
              label=f"fusion side (b = {_f(res['exponent_fusion_side'], 2)})")
    ax.loglog(
        ns,
        [r['modelled_e2e_ms'] for r in res['rows']],
        's--',
        label=f"modelled e2e, drone per computer (b = {_f(res['exponent_modelled_e2e'], 2)})",
    )
    g = [
        (r['drones'], r['graph']['median_ms'])
        for r in res['rows']
        if r.get('graph') and 'median_ms' in r['graph']
    ]
    if g:
        ax.loglog([a for a, _ in g], [b for _, b in g], '^-',
                  label=f"graph e2e on this machine (b = {_f(res['exponent_graph_e2e'], 2)})")
    ax.axhline(300, color='grey', lw=0.8, ls=':', label='300 ms target')
    from matplotlib.ticker import NullFormatter
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel('drones')
    ax.set_ylabel('ms per frame (median)')
    ax.set_title('Scaling with fleet size (time ~ drones^b)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bandwidth(res: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in res['rows']:
        ap = r['ap50'] if r['ap50'] is not None else float('nan')
        b = max(r['bytes_per_agent_frame'], 1.0)
        ax.scatter(b, ap, marker='o' if r['mode'] == 'collaborative' else 's', s=40,
                   label=f"{r['method']} ({r['bytes_per_agent_frame']:.0f} B)")
    for mbit in res['link_mbit_s']:
        ax.axvline(mbit * 1e6 / 8 / res['rate_hz'], color='grey', lw=0.8, ls=':')
        ax.text(
            mbit * 1e6 / 8 / res['rate_hz'],
            ax.get_ylim()[1],
            f' {mbit:g} Mbit/s',
            fontsize=7,
            va='top',
        )
    ax.set_xscale('log')
    ax.set_xlabel(f"bytes per drone per frame (link lines at {res['rate_hz']:g} Hz)")
    ax.set_ylabel('BEV AP@0.5')
    ax.set_title(
        f"Accuracy vs bandwidth ({res['frames']} frames, {res['drones']} drones; 0 B drawn at 1 B)"
    )
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(results: dict, out_dir: Path) -> dict[str, str]:
    """Draw the PNGs of the sections that ran; return {section: file name}."""
    import matplotlib
    matplotlib.use('Agg')
    made = {}
    for key, fn in (
        ('stages', plot_stages),
        ('scaling', plot_scaling),
        ('bandwidth', plot_bandwidth),
    ):
        if results.get(key):
            fn(results[key], out_dir / PLOTS[key])
            made[key] = PLOTS[key]
    return made


def _meta_lines(results: dict) -> list[str]:
    m = results['meta']
    v = m['machine']['versions']
    lines = [
        f"# rsdfm benchmarks ({m['plan']} run)",
        '',
        f"Written by `rsdfm bench{' --quick' if m['plan'] == 'quick' else ''}` "
        f"on {m['machine']['date']} at commit {m['machine']['commit']}, "
        f"in {m['seconds']:.0f} s. Benchmarks report; they assert nothing.",
        '',
        f"- Model: `{m['model_id']}` ({m['weights']})",
    ]
    if m.get('random_init'):
        lines.append(
            '- **The weights were a random initialisation** (no trained checkpoint was '
            'available): speed and bytes are meaningful, accuracy is not.'
        )
    mc = m['machine']
    lines += [f"- Machine: {mc['cpu']}, {mc['cores']} cores, {mc['ram_gib']} GiB RAM, {mc['os']}",
              '- Versions: ' + ', '.join(f'{k} {val}' for k, val in v.items()),
              f"- Load average at start / end: {m['load_start']} / {mc['load_average']}"]
    if m['competing']:
        lines.append(
            '- **Other jobs were using the CPU during this run** '
            f"({len(m['competing'])} process(es): "
            'training or evaluation), so times are slower and noisier than on an idle machine: '
            + '; '.join(f'`{c}`' for c in m['competing'])
        )
    else:
        lines.append(
            '- No training or other busy process was seen on the CPU at the start or the end '
            'of the run.'
        )
    if m.get('kept'):
        lines.append('- Sections kept from earlier runs (`--merge`): ' + '; '.join(
            f"{name} ({k['date']}, commit {k['commit']})" for name, k in m['kept'].items()))
    return lines + ['']


def _stage_lines(st: dict, transport_ms: float | None) -> list[str]:
    one, alln = st['threads_1'], st['threads_all']
    shares = stage_shares(
        one, {'transport (DDS)': transport_ms} if transport_ms is not None else None
    )
    rows = []
    for side, names, unit in (
        ('drone', DRONE_STAGES, 'per image'),
        ('fusion', FUSION_STAGES, f"per frame of {st['drones']} drones"),
    ):
        for n in names:
            a, b = one['stages'][n], alln['stages'][n]
            rows.append(
                [
                    f'{side}: {n}',
                    unit,
                    f"{_f(a['median_ms'])} / {_f(a['p90_ms'])}",
                    f"{_f(b['median_ms'])} / {_f(b['p90_ms'])}",
                    _f(100 * shares.get(f'{side}: {n}', float('nan')), 0, ' %'),
                ]
            )
        if side == 'drone' and transport_ms is not None:
            rows.append(
                [
                    'transport (DDS, BevFeature)',
                    'per map',
                    f'{_f(transport_ms, 2)}',
                    '',
                    _f(100 * shares['transport (DDS)'], 0, ' %'),
                ]
            )
        tot = f'{side} side (total)'
        rows.append(
            [
                f'**{tot}**',
                unit,
                f"{_f(one['stages'][tot]['median_ms'])} / {_f(one['stages'][tot]['p90_ms'])}",
                f"{_f(alln['stages'][tot]['median_ms'])} / {_f(alln['stages'][tot]['p90_ms'])}",
                '',
            ]
        )
    return (
        [
            '## Per-stage time',
            '',
            f"Median / p90 ms over {st['frames']} fleet frames of {st['drones']} drones "
            f"({st['frames'] * st['drones']} drone images); 1 thread and all "
            f"{st['all_threads']} threads. Share = the stage's part of one frame's path "
            '(one drone image, one transport, the fusion side), 1 thread. Resampling maps each '
            "drone's own grid (centred where its camera looks) into the fusion region; with the "
            'default shared grid it is skipped.',
            '',
        ]
        + _table(
            ['stage', 'unit', '1 thread median / p90', 'all threads median / p90', 'share'], rows
        )
        + ['']
    )


def _onnx_lines(ox: dict) -> list[str]:
    lines = ['## Drone side: ONNX Runtime vs PyTorch eager', '']
    if not ox.get('ok'):
        return lines + [f"Export failed: {ox.get('error')}", '']
    rows = []
    for key in ('threads_1', 'threads_all'):
        r = ox[key]
        rows.append(
            [
                str(r['threads']),
                f"{_f(r['eager']['median_ms'])} / {_f(r['eager']['p90_ms'])}",
                f"{_f(r['onnxruntime']['median_ms'])} / {_f(r['onnxruntime']['p90_ms'])}",
                f"{r['speedup']:.2f}x",
                _f(r['geometry_eager']['median_ms'], 2),
            ]
        )
    enc = ox.get('encoder_only') or {}
    if enc.get('ok'):
        rows.append(
            [
                '1 (encoder only)',
                f"{_f(enc['eager']['median_ms'])} / {_f(enc['eager']['p90_ms'])}",
                f"{_f(enc['onnxruntime']['median_ms'])} / {_f(enc['onnxruntime']['p90_ms'])}",
                f"{enc['speedup']:.2f}x",
                '',
            ]
        )
    return (
        lines
        + [
            f"Exported part: {ox['part']}; {ox['exporter']}, "
            f"{ox['onnx_bytes'] / 1e6:.1f} MB, exported in {ox['export_s']:.1f} s. "
            f"Outputs agree within |onnx - eager| <= {ox['atol']:g} + {ox['rtol']:g}·|eager| "
            f"on {ox['views_checked']} views: **{ox['agree']}** "
            f"(max abs diff {ox['max_abs_diff']:.1e}).",
            '',
        ]
        + _table(
            [
                'threads',
                'eager median / p90 ms',
                'onnxruntime median / p90 ms',
                'speed-up',
                'geometry (eager, both paths) ms',
            ],
            rows,
        )
        + [
            '',
            'Eager and onnxruntime calls alternate, so load from other processes hits both alike.',
            '',
        ]
        + _ground_parts_lines(ox.get('ground_parts') or {})
    )


def _ground_parts_lines(parts: dict) -> list[str]:
    """Return the table of the ground station's parts, eager vs onnxruntime (nodes' default)."""
    if not parts:
        return []
    rows = [[name, ' x '.join(str(d) for d in r['input']),
             f"{_f(r['eager']['median_ms'])} / {_f(r['eager']['p90_ms'])}",
             f"{_f(r['onnxruntime']['median_ms'])} / {_f(r['onnxruntime']['p90_ms'])}",
             f"{r['speedup']:.2f}x"] if r.get('ok') else [name, '', r.get('error', ''), '', '']
            for name, r in parts.items()]
    return (['## Ground station parts: ONNX Runtime vs PyTorch eager', '',
             'The parts the fusion and task nodes run in ONNX Runtime by default (their input is '
             'the fusion region, one size), on one thread. Calls alternate, 30 ms apart, as a '
             "node's calls come with its frames.", '']
            + _table(['part', 'input', 'eager median / p90 ms', 'onnxruntime median / p90 ms',
                      'speed-up'], rows)
            + [''])


def _transport_lines(tr: dict) -> list[str]:
    rows = []
    for codec in ('hlf-v1', 'raw-f32'):
        r = tr.get(codec)
        if r:
            rows.append(
                [
                    codec
                    + (f" {r['budget']['topk']}:{r['budget']['bits']}" if r.get('budget') else ''),
                    str(r['payload_bytes']),
                    f"{r['ratio_to_raw']:.4f}",
                    f"{_f(r['median_ms'], 2)} / {_f(r['p90_ms'], 2)}",
                    f"{r['received']}/{r['sent']}",
                    f"{r['rate_hz']:g}",
                ]
            )
    return (
        [
            '## Transport: BevFeature over DDS between two processes',
            '',
            f"{tr['qos']} QoS on {tr['topic']}, Fast DDS with the project's profile "
            '(config/fastdds.xml). Latency = receive time in the subscriber minus the stamp '
            'taken just before publish() (same clock).',
            '',
        ]
        + _table(
            [
                'codec',
                'payload bytes',
                'payload / raw float32 map',
                'latency median / p90 ms',
                'received',
                'rate Hz',
            ],
            rows,
        )
        + ['']
    )


def _scaling_lines(sc: dict) -> list[str]:
    rows = []
    for r in sc['rows']:
        g = r.get('graph') or {}
        gtxt = (f"{_f(g.get('median_ms'), 0)} / {_f(g.get('p90_ms'), 0)}" if 'median_ms' in g
                else ('error: ' + g['error'][:80] if 'error' in g else 'not run'))
        rows.append(
            [
                str(r['drones']),
                f"{_f(r['fusion_side']['median_ms'])} / {_f(r['fusion_side']['p90_ms'])}",
                _f(r['modelled_e2e_ms'], 0),
                gtxt,
                f"{g['delivered']}/{g['frames']}" if 'delivered' in g else '',
                f'{_f(model_cpu_ms(sc, r), 0)} ms, '
                f"{_f(model_cpu_ms(sc, r) / (sc.get('cores', 2) * 1.0), 0)} %",
                f"{_f(g['cpu_ms_per_frame'], 0)} ms" if g.get('cpu_ms_per_frame') else '',
            ]
        )
    lines = [
        '## Scaling with the number of drones',
        '',
        'Fusion side (decode, fuse, decoder, heads, trajectories; 1 thread) per frame. '
        "Modelled end-to-end = one drone's image-to-payload time "
        f"({_f(sc['drone_side']['median_ms'])} ms, each drone has its own computer) + transport "
        f"({_f(sc['transport_ms'], 2)} ms) + fusion side. Graph end-to-end = every node as a "
        'process over DDS on this machine (all drones share its cores), bag replayed at 10 Hz, '
        'image publish to detections recorded; frames the graph could not keep up with are '
        'dropped by the sensor-data QoS, hence "delivered"; the first 5 delivered frames '
        '(cold start of every node) are left out of the latency.',
        '',
        'Measured exponent b of time ~ drones^b: '
        f"fusion side **{_f(sc['exponent_fusion_side'], 2)}**, "
        f"modelled end-to-end **{_f(sc['exponent_modelled_e2e'], 2)}**, "
        f"graph end-to-end **{_f(sc['exponent_graph_e2e'], 2)}** "
        '(b = 1 is linear). Linear fit of the fusion side: '
        f"{_f(sc['linear_fusion_side']['fixed_ms'])} ms fixed "
        f"(BEV decoder, heads) + {_f(sc['linear_fusion_side']['per_drone_ms'])} ms per drone "
        '(decode, resample, attention).',
        '',
    ]
    lines += _table(
        [
            'drones',
            'fusion side median / p90 ms',
            'modelled e2e ms',
            'graph e2e median / p90 ms',
            'frames delivered',
            'model compute per frame, % of the cores at 10 Hz',
            'graph node time per frame',
        ],
        rows,
    ) + ['']
    lines += [
        "Model compute per frame = drones x one drone's image-to-payload time + the fusion side "
        "(1 thread, in process): what the graph must at least do every 100 ms on this machine's "
        'cores. Graph node time per frame = the processing medians of every node added (from '
        '/diagnostics, wall clock, so it also holds message conversion and waiting for a core). '
        "Once either passes the cores' time per frame the graph cannot keep up at 10 Hz: queues "
        'fill, frames drop, and the latency is mostly waiting.',
        '',
    ]
    g4 = next(
        (
            r['graph']
            for r in sc['rows']
            if r['drones'] == 4 and r.get('graph') and r['graph'].get('nodes')
        ),
        None,
    )
    if g4:
        lines += [
            'Per node in the 4-drone graph (from /diagnostics): processing = callback time, '
            'e2e = output time minus capture stamp.',
            '',
        ] + _node_table(g4)
    rt = sc.get('real_time') or {}
    if 'median_ms' in rt:
        lines += [
            'Real time on these cores: the same 4-drone graph and bag at 10 Hz, the drones '
            f"mapping at {rt['map_rate_hz']:g} Hz (perception `map_rate`: the first image of each "
            f"{1e3 / rt['map_rate_hz']:.0f} ms slot of capture time, the same instants on every "
            f"drone), as `rsdfm demo` runs by default: {rt['delivered']}/{rt['frames']} mapped "
            f"frames delivered, end-to-end {_f(rt['median_ms'], 0)} ms median, "
            f"{_f(rt['p90_ms'], 0)} ms p90, nodes' processing "
            f"{_f(rt.get('cpu_ms_per_frame'), 0)} ms per mapped frame.",
            '',
        ] + _node_table(rt)
    return lines


def _node_table(g: dict) -> list[str]:
    """Return the per-node /diagnostics figures of one graph run as table lines."""
    return _table(
        ['node', 'processing median ms', 'e2e median ms', 'published'],
        [
            [
                n,
                d.get('processing_ms_median', ''),
                d.get('e2e_latency_ms_median', ''),
                d.get('published', ''),
            ]
            for n, d in g['nodes'].items()
        ],
    ) + ['']


def model_cpu_ms(sc: dict, row: dict) -> float:
    """Return the CPU ms one frame of `row['drones']` drones needs from the model alone.

    All drones run on one machine.
    """
    return row['drones'] * sc['drone_side']['median_ms'] + row['fusion_side']['median_ms']


def _bandwidth_lines(bw: dict) -> list[str]:
    rows = []
    for r in bw['rows']:
        rows.append(
            [
                r['method'],
                _f(r['ap50'], 3),
                _f(r['ap70'], 3),
                f"{r['bytes_per_agent_frame']:.0f}",
                _f(r['log2_bytes'], 1),
                _f(r['mbit_s_at_10hz'], 2),
                ', '.join(f'{x:g}' for x in r['fits_link_mbit_s']) or 'none',
            ]
        )
    return (
        [
            '## Accuracy versus bandwidth',
            '',
            f"BEV AP at rotated IoU 0.5 / 0.7 over {bw['frames']} frames "
            f"of {bw['drones']} drones, "
            "through rsdfm evaluate's evaluation. single = one drone, no link; late = boxes sent "
            '(40 B each); raw = float32 maps; codec TOPK:BITS = HLF payload with that budget '
            f"(default {bw['default_budget']['topk']}:{bw['default_budget']['bits']}). "
            f"Bit rate per drone at {bw['rate_hz']:g} Hz; "
            'UAV links considered: ' + ', '.join(f'{x:g}' for x in bw['link_mbit_s']) + ' Mbit/s.',
            '',
        ]
        + _table(
            [
                'method',
                'AP@0.5',
                'AP@0.7',
                'bytes / drone / frame',
                'log2 bytes',
                'Mbit/s at 10 Hz',
                'fits links (Mbit/s)',
            ],
            rows,
        )
        + ['']
    )


def _overhead_lines(ov: dict) -> list[str]:
    if ov.get('error'):
        return ['## Node overhead', '', f"The one-drone graph did not run: {ov['error']}", '']
    return [
        '## Node overhead',
        '',
        f"One drone, the bag replayed at {ov['rate_hz']:g} Hz so that no node waits for its "
        'previous frame. Node = processing median on /diagnostics (callback start to publish: '
        'the work plus message conversion, copies and publishing, and any wait for a core: the '
        'detection, segmentation and trajectory nodes and the recorder all get each fused map '
        'at once); node CPU = the CPU time of the processing thread over the same span, which '
        'leaves the waiting out; in process = the same calls on the same '
        f"{ov['frames']} frames, one thread, no ROS, the same engines as the nodes' defaults "
        "(the ground station's parts in ONNX Runtime, the drone side eager). Target: node at "
        f"most {ov['target']:g}x in process (judged on the wall-clock median).",
        '',
    ] + _table(
        ['node', 'its work in process', 'node median ms', 'node CPU median ms',
         'in process median ms', 'ratio', 'CPU ratio', 'holds'],
        [[r['node'], r['stage'], _f(r['node_ms']), _f(r.get('node_cpu_ms')),
          _f(r['in_process_ms']), _f(r['ratio'], 2, 'x'), _f(r.get('cpu_ratio'), 2, 'x'),
          _holds(r['ratio'] <= ov['target'] if r['ratio'] == r['ratio'] else None)]
         for r in ov['rows']],
    ) + ['']


def _ground_station_lines(gs: dict) -> list[str]:
    from rsdfm_bench.ground_station import GRAPH_WARMUP_FRAMES

    lines = [
        '## Ground station alone: recorded drone maps at 10 Hz',
        '',
        "The fusion, detection, segmentation and trajectory nodes fed the drones' BevFeature "
        f"messages from a bag (the drone side run once on the bench bag's {gs['frames']} frames "
        'and recorded per drone topic), replayed restamped at 10 Hz with the first N drone '
        f"topics. The simulator places {gs['copied_drones_from']} drones, so drones "
        f"{gs['copied_drones_from'] + 1}-16 send copies of the first ones' maps under their own "
        'ids (the cost of 16, the content of 8). Layouts: separate = one process per node; one '
        'process = the ground_station process (one executor, the fused map handed on in memory). '
        "Delivered = frames with a detection message; end-to-end = the frame's last map "
        f'published to its detections received (same clock; first {GRAPH_WARMUP_FRAMES} '
        'delivered frames left out); CPU per frame = user + system time of the ground '
        "station's processes from the first map sent to the last detection, per frame "
        'delivered (runs before 2026-12-01 08:00 counted from the '
        f'{GRAPH_WARMUP_FRAMES}th delivered frame on); maps the fusion node '
        'lost (its reader queue overflowed while it fused) or refused (too late for their '
        'frame) are not fused, which lowers its cost per frame; node columns: processing '
        'medians from /diagnostics.',
        '',
    ]
    rows = []
    for r in gs['rows']:
        if r.get('error'):
            rows.append([r['layout'].replace('_', ' '), str(r['drones']), r['error'], '', '',
                         '', '', '', '', ''])
            continue
        node = {name.rsplit('/', 1)[-1]: v for name, v in r['nodes'].items()}

        def ms(name, node=node):
            return node.get(name, {}).get('processing_ms_median') or 'n/a'
        fusion = node.get('fusion_node', {})
        rows.append([r['layout'].replace('_', ' '), str(r['drones']),
                     f"{r['delivered']}/{r['frames']}",
                     f"{_f(r['median_ms'], 0)} / {_f(r['p90_ms'], 0)}",
                     _f(r['cpu_ms_per_frame'], 0),
                     f"{fusion.get('received', '?')} / {fusion.get('lost', '?')} / "
                     f"{fusion.get('refused_total', '?')}",
                     ms('fusion_node'), ms('detection_node'),
                     ms('segmentation_node'), ms('trajectory_node')])
    lines += _table(['layout', 'drones', 'frames delivered', 'e2e median / p90 ms',
                     'CPU ms per frame', 'maps received / lost / refused (fusion)',
                     'fusion ms', 'detection ms', 'segmentation ms', 'trajectory ms'],
                    rows) + ['']
    for layout, fit in (gs.get('fits') or {}).items():
        cpu = fit.get('cpu_fit')
        if not cpu:
            continue
        lines.append(
            f"- {layout.replace('_', ' ')}: CPU per frame = {cpu['fixed_ms']:.0f} ms + "
            f"{cpu['per_drone_ms']:.1f} ms per added drone (linear fit); growth exponent b "
            f"(time ~ drones^b): CPU {_f(fit['exponent_cpu'], 2)}, end-to-end median "
            f"{_f(fit['exponent_e2e'], 2)}.")
    return lines + ['']


# Hand-written sections of RESULTS.md that other scripts measure; a rewrite keeps them.
KEPT_TAIL = '## Flying over radio links'


def write_results_md(results: dict, out_dir: Path, plots: dict[str, str]) -> Path:
    """benchmarks/RESULTS.md: meta, targets, then one section per measurement that ran."""
    lines = _meta_lines(results)
    lines += (
        ['## Targets', '']
        + _table(
            ['target', 'measured', 'holds', 'note'],
            [
                [t['target'], t['measured'], _holds(t['holds']), t['note']]
                for t in results['targets']
            ],
        )
        + ['']
    )
    tr = results.get('transport')
    t_ms = tr['hlf-v1']['median_ms'] if tr and tr.get('hlf-v1') else None
    if results.get('stages'):
        lines += _stage_lines(results['stages'], t_ms)
    if results.get('onnx'):
        lines += _onnx_lines(results['onnx'])
    if tr:
        lines += _transport_lines(tr)
    if results.get('scaling'):
        lines += _scaling_lines(results['scaling'])
    if results.get('overhead'):
        lines += _overhead_lines(results['overhead'])
    if results.get('ground_station'):
        lines += _ground_station_lines(results['ground_station'])
    if results.get('bandwidth'):
        lines += _bandwidth_lines(results['bandwidth'])
    if plots:
        lines += ['## Plots', ''] + [f'![{k}]({v})' for k, v in plots.items()] + ['']
    path = out_dir / 'RESULTS.md'
    old = path.read_text() if path.is_file() else ''
    if KEPT_TAIL in old:
        lines += [old[old.index(KEPT_TAIL):].rstrip('\n'), '']
    path.write_text('\n'.join(lines))
    return path
