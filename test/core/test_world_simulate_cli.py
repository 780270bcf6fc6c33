"""`rsdfm simulate`: writes a bag and preview.png; bad arguments give one clear line and exit 2."""
from __future__ import annotations

import pytest

from rsdfm_core.bag import read_frames
from rsdfm_core.cli import main

TINY = ['--width', '96', '--height', '72', '--frames', '2', '--drones', '2']


def test_simulate_writes_bag_and_preview(tmp_path, capsys):
    out = tmp_path / 'run'
    out.mkdir()                                   # an existing empty directory is fine
    assert main(['simulate', '--out', str(out), '--seed', '3', *TINY]) == 0
    assert (out / 'metadata.yaml').is_file() and (out / 'preview.png').stat().st_size > 10_000
    frames = list(read_frames(out))
    assert len(frames) == 2 and [v.agent_id for v in frames[0].views] == ['uav1', 'uav2']
    assert frames[0].views[0].image.shape == (72, 96, 3)
    assert 'frames' in capsys.readouterr().err


def test_no_dense_gt_option(tmp_path):
    out = tmp_path / 'run'
    assert main(['simulate', '--out', str(out), '--no-dense-gt', *TINY]) == 0
    view = next(read_frames(out)).views[0]
    assert view.depth is None and view.instance is None


@pytest.mark.parametrize('args, words', [
    (['--drones', '0'], ['drones', '1 and 8']),
    (['--drones', '9'], ['drones', '1 and 8']),
    (['--altitude', '120:40'], ['--altitude', 'inverted']),
    (['--pitch', '70:30'], ['--pitch', 'inverted']),
    (['--altitude', 'high'], ['--altitude', 'MIN:MAX']),
    (['--pitch', '10:20:30'], ['--pitch', 'MIN:MAX']),
    (['--altitude', '10:60'], ['tallest building']),
    (['--frames', '0'], ['--frames']),
])
def test_bad_arguments_are_one_clear_line(tmp_path, capsys, args, words):
    code = main(
        ['simulate', '--out', str(tmp_path / 'x'), '--width', '64', '--height', '48', *args]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err.startswith('rsdfm simulate: error:')
        and err.count('\n') == 1
        and 'Traceback' not in err
    )
    for w in words:
        assert w in err
    assert not (tmp_path / 'x').exists()


def test_non_empty_out_dir_is_refused(tmp_path, capsys):
    (tmp_path / 'keep.txt').write_text('mine')
    assert main(['simulate', '--out', str(tmp_path), *TINY]) == 2
    assert 'not an empty directory' in capsys.readouterr().err
    assert (tmp_path / 'keep.txt').read_text() == 'mine'
