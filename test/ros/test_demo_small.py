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
    # at rate 0.5 the drones map at 2.5 / 0.5 = 5 Hz: one of each two camera frames, every one
    # of them detected (3 or 4 of 6, by where the replay's stamps fall in the 200 ms slots)
    assert summary['map_rate_hz'] == 5.0 and summary['camera_frames'] == 6
    assert summary['frames'] in (3, 4) and summary['frames_with_detections'] == summary['frames']
    assert summary['bytes_per_agent_frame'] > 0 and summary['latency_ms_median'] > 0
    assert (out / 'demo.png').stat().st_size > 10_000
    from PIL import Image
    with Image.open(out / 'demo.gif') as video:                  # one picture per frame, 10 Hz
        assert video.n_frames == 6 and video.info['duration'] == 100, video.info
    assert 'detection AP@0.5' in proc.stdout and 'bytes per drone per frame' in proc.stdout


def test_demo_refuses_bad_arguments(ros_env):
    proc = subprocess.run(
        [RSDFM, 'demo', '--drones', '0'], env=ros_env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and '--drones must be between 1 and 8' in proc.stderr, proc.stderr
