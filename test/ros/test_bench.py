"""`rsdfm bench --quick` runs end to end and writes well-formed results.

Well-formed: the JSON keys, the RESULTS.md rows and the PNGs.

Benchmarks are not assertions: nothing here checks a speed, only that every measurement ran,
produced finite figures of the right shape, and that the report names them. The one correctness
check is the ONNX export's agreement with eager PyTorch, which is a property of the export.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
import subprocess
import sys

import pytest

RSDFM = str(Path(sys.executable).with_name('rsdfm'))
STAGES = (
    'preprocess',
    'encoder',
    'lifting',
    'codec encode',
    'codec decode',
    'resampling',
    'fusion',
    'bev decoder',
    'detection head',
    'segmentation head',
    'trajectory head',
)
METHODS = ('single', 'late', 'raw', 'codec 256:4', 'codec 256:8', 'codec 1024:8', 'codec 4096:8')


def run_bench(tmp: Path, *extra: str) -> tuple[Path, dict, str]:
    """Run `rsdfm bench --quick` with `extra` arguments into tmp: (tmp, its JSON, stderr)."""
    from helpers import ros_test_env

    proc = subprocess.run(
        [
            RSDFM,
            'bench',
            '--quick',
            *extra,
            '--out',
            str(tmp / 'results'),
            '--work',
            str(tmp / 'work'),
            '--json',
            str(tmp / 'bench.json'),
        ],
        env=ros_test_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, json.loads((tmp / 'bench.json').read_text()), proc.stderr


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    return run_bench(tmp_path_factory.mktemp('bench'))


@pytest.mark.slow
def test_quick_node_overhead(tmp_path):
    tmp, res, _ = run_bench(tmp_path, '--only', 'overhead')
    ov = res['overhead']
    nodes = ['/uav1/perception_node', '/fusion_node', '/detection_node', '/segmentation_node',
             '/trajectory_node']
    assert [r['node'] for r in ov['rows']] == nodes, ov
    assert all(r['node_ms'] > 0 and r['in_process_ms'] > 0 for r in ov['rows']), ov['rows']
    target = next(t for t in res['targets'] if t['target'].startswith("each node's processing"))
    assert target['holds'] in (True, False) and 'fusion_node' in target['measured'], target
    md = (tmp / 'results' / 'RESULTS.md').read_text()
    assert '## Node overhead' in md and '| /fusion_node | decode and fusion |' in md


@pytest.mark.slow
def test_quick_ground_station_kept_beside_an_earlier_run(quick_run, tmp_path):
    """--only ground_station --merge: the ground station's rows, the other sections kept."""
    earlier, first, _ = quick_run
    tmp, res, _ = run_bench(tmp_path, '--only', 'ground_station', '--merge',
                            str(earlier / 'bench.json'))
    gs = res['ground_station']
    assert [(r['layout'], r['drones']) for r in gs['rows']] == [('separate', 2),
                                                                ('one_process', 2)]
    for row in gs['rows']:
        assert row['delivered'] >= 1 and row['median_ms'] > 0, row
        assert row['cpu_ms_per_frame'] > 0 or row['delivered'] <= 5, row
        assert {'/fusion_node', '/detection_node', '/trajectory_node'} <= set(row['nodes'])
    assert res['stages'] == first['stages'] and res['bandwidth'] == first['bandwidth']
    assert set(res['meta']['kept']) == set(first['meta']['sections'])
    md = (tmp / 'results' / 'RESULTS.md').read_text()
    assert '## Ground station alone' in md and '| one process | 2 |' in md
    assert 'Sections kept from earlier runs' in md and '## Per-stage time' in md


def _finite_ms(s: dict) -> bool:
    return (
        s['runs'] > 0
        and math.isfinite(s['median_ms'])
        and s['median_ms'] >= 0
        and s['p90_ms'] >= s['median_ms']
    )


@pytest.mark.slow
def test_quick_bench_writes_every_measurement(quick_run):
    _, res, _ = quick_run
    assert set(res) >= {'meta', 'stages', 'onnx', 'transport', 'scaling', 'bandwidth', 'targets'}
    assert 'overhead' not in res          # --quick leaves it out (test_quick_node_overhead)
    meta = res['meta']
    assert meta['plan'] == 'quick' and len(meta['model_id']) == 16
    assert meta['machine']['cores'] >= 1 and meta['machine']['versions']['torch']
    for key in ('threads_1', 'threads_all'):
        stages = res['stages'][key]['stages']
        assert all(
            _finite_ms(stages[s]) for s in STAGES + ('drone side (total)', 'fusion side (total)')
        ), stages
    onnx = res['onnx']
    assert onnx['ok'] and onnx['agree'], onnx
    assert onnx['threads_1']['speedup'] > 0 and _finite_ms(onnx['threads_1']['onnxruntime'])
    parts = onnx['ground_parts']
    assert set(parts) == {'decoder', 'det_head', 'seg_head', 'traj_head'}, parts
    assert all(p['ok'] and _finite_ms(p['eager']) and _finite_ms(p['onnxruntime'])
               for p in parts.values()), parts
    hlf, raw = res['transport']['hlf-v1'], res['transport']['raw-f32']
    assert hlf['received'] == hlf['sent'] > 0 and raw['received'] == raw['sent']
    assert hlf['payload_bytes'] < hlf['raw_bytes'] and 0 < hlf['ratio_to_raw'] < 1
    sc = res['scaling']
    assert [r['drones'] for r in sc['rows']] == [1, 2, 4, 8]
    assert isinstance(sc['exponent_fusion_side'], float)
    graphs = [r['graph'] for r in sc['rows'] if r['graph']]
    assert graphs and all(g['delivered'] > 0 and _finite_ms(g) for g in graphs), graphs
    rows = {r['method']: r for r in res['bandwidth']['rows']}
    assert set(rows) == set(METHODS)
    assert (
        rows['raw']['bytes_per_agent_frame']
        > rows['codec 4096:8']['bytes_per_agent_frame']
        > rows['codec 1024:8']['bytes_per_agent_frame']
        > rows['codec 256:4']['bytes_per_agent_frame']
        > 0
    )
    assert rows['single']['bytes_per_agent_frame'] == 0
    assert all(t['holds'] in (True, False, None) and t['measured'] for t in res['targets'])


@pytest.mark.slow
def test_quick_bench_report_and_plots(quick_run):
    tmp, res, _ = quick_run
    md = (tmp / 'results' / 'RESULTS.md').read_text()
    assert (
        res['meta']['model_id'] in md
        and '## Targets' in md
        and res['meta']['machine']['cpu'] in md
    )
    for stage in STAGES:
        assert any(
            line.startswith(f'| drone: {stage} |') or line.startswith(f'| fusion: {stage} |')
            for line in md.splitlines()
        ), stage
    for method in METHODS:
        assert f'| {method} |' in md, method
    assert '| hlf-v1 1024:8 |' in md and '| raw-f32 |' in md
    for drones in (1, 2, 4, 8):
        assert any(line.startswith(f'| {drones} |') for line in md.splitlines())
    for png in ('bench_stages.png', 'bench_scaling.png', 'bench_bandwidth.png'):
        data = (tmp / 'results' / png).read_bytes()
        assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 5000, png
        assert f']({png})' in md


@pytest.mark.slow
def test_report_rewritten_from_json_matches_the_run(quick_run, tmp_path):
    from helpers import ros_test_env

    tmp, _, _ = quick_run
    proc = subprocess.run(
        [RSDFM, 'bench', '--from-json', str(tmp / 'bench.json'), '--out', str(tmp_path)],
        env=ros_test_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / 'RESULTS.md').read_text() == (tmp / 'results' / 'RESULTS.md').read_text()
    assert (tmp_path / 'bench_scaling.png').stat().st_size > 5000


def test_bench_refuses_bad_arguments(tmp_path):
    from helpers import ros_test_env

    (tmp_path / 'not.json').write_text('[1, 2]')
    for args, words in (
        (['--only', 'stages,speed'], '--only'),
        (['--weights', str(tmp_path / 'none.pt')], '--weights'),
        (['--from-json', str(tmp_path / 'not.json')], '--from-json'),
        (['--from-json', str(tmp_path / 'missing.json')], '--from-json'),
        (['--merge', str(tmp_path / 'not.json')], '--merge'),
    ):
        proc = subprocess.run(
            [RSDFM, 'bench', '--quick', '--out', str(tmp_path), *args],
            env=ros_test_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and 'Traceback' not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
