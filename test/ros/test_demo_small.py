"""`rsdfm demo` end to end on a tiny scene: every mapped frame detected, summary, picture."""
import json
from pathlib import Path
import subprocess
import sys

import pytest

RSDFM = str(Path(sys.executable).with_name('rsdfm'))


@pytest.mark.slow
def test_demo_runs_the_graph_and_writes_summary_and_picture(tmp_path, ros_env):
    out = tmp_path / 'demo'
    proc = subprocess.run(
        [
            RSDFM,
            'demo',
            '--out',
            str(out),
            '--drones',
            '2',
            '--frames',
            '6',
            '--width',
            '160',
            '--height',
            '120',
            '--rate',
            '0.5',
        ],
        env=ros_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    # the map rate the demo measured these cores carry: every frame it maps is detected, and
    # below the camera's 10 Hz it maps fewer than the 6 camera frames
    rate = summary['map_rate_hz']
    assert rate in (10.0, 5.0, 2.5, 1.25, 0.625) and summary['camera_frames'] == 6
    assert f'the drones map at {rate:g} Hz' in proc.stderr, proc.stderr[-2000:]
    assert summary['frames_with_detections'] == summary['frames'] >= 1
    assert (summary['frames'] == 6) == (rate == 10.0)
    assert summary['bytes_per_agent_frame'] > 0 and summary['latency_ms_median'] > 0
    assert (out / 'demo.png').stat().st_size > 10_000
    from PIL import Image
    with Image.open(out / 'demo.gif') as video:                  # one picture per frame, 10 Hz
        assert video.n_frames == 6 and video.info['duration'] == 100, video.info
    assert 'detection AP@0.5' in proc.stdout and 'bytes per drone per frame' in proc.stdout


@pytest.mark.slow
def test_demo_at_a_map_rate_scores_the_frames_mapped(tmp_path, ros_env):
    out = tmp_path / 'demo'
    proc = subprocess.run(
        [RSDFM, 'demo', '--out', str(out), '--drones', '2', '--frames', '6', '--width', '160',
         '--height', '120', '--map-rate', '5'],
        env=ros_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / 'summary.json').read_text())
    # one of each two camera frames: 3 of 6 (the replay starts on a slot's edge, every run)
    assert summary['map_rate_hz'] == 5.0 and summary['camera_frames'] == 6
    assert summary['frames'] == summary['frames_with_detections'] == 3
    assert 'maps at 5 Hz: 3 of the 6 camera frames' in proc.stdout


def test_demo_refuses_bad_arguments(ros_env):
    proc = subprocess.run(
        [RSDFM, 'demo', '--drones', '0'], env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and '--drones must be between 1 and 8' in proc.stderr, proc.stderr
