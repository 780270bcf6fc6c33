"""`rsdfm evaluate`: JSON keys of every method on a tiny bag, clear errors for bad input."""
import json

import pytest
import torch

from rsdfm_core.cli import main

torch.set_num_threads(1)
KEYS = {'ap50', 'ap70', 'iou', 'pq', 'ade', 'fde', 'bytes_per_agent_frame', 'frames', 'per_class'}


@pytest.fixture(scope='module')
def bag(tmp_path_factory):
    from rsdfm_core.bag import write_bag
    from rsdfm_core.world import Simulator, WorldConfig
    out = tmp_path_factory.mktemp('eval') / 'bag'
    write_bag(out, Simulator(WorldConfig(seed=31, drones=2)).frames(2))
    return out


@pytest.mark.parametrize('mode', ['collaborative', 'single', 'late', 'raw'])
def test_every_mode_reports_the_contract_keys(bag, tmp_path, mode, capsys):
    out = tmp_path / f'{mode}.json'
    assert (
        main(
            [
                'evaluate',
                '--bag',
                str(bag),
                '--mode',
                mode,
                '--json',
                str(out),
                '--budget',
                '256:6',
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert KEYS <= set(res)
    assert res['frames'] == 2
    assert set(res['ade']) == {'1s', '2s', '3s'}
    assert set(res['per_class']['ap50']) == {'car', 'truck', 'bus'}
    if mode == 'raw':
        assert (
            res['bytes_per_agent_frame'] > res['raw_bytes_per_agent_frame']
        )  # header + validity bits
    elif mode != 'late':
        assert res['bytes_per_agent_frame'] < res['raw_bytes_per_agent_frame'] / 32


def test_bad_bag_path_is_a_clear_error(tmp_path, capsys):
    assert main(['evaluate', '--bag', str(tmp_path / 'missing')]) == 2
    assert 'is not a rosbag2 directory' in capsys.readouterr().err


def test_bad_budget_is_a_clear_error(bag, capsys):
    assert main(['evaluate', '--bag', str(bag), '--budget', '1024']) == 2
    assert 'TOPK:BITS' in capsys.readouterr().err
    assert main(['evaluate', '--bag', str(bag), '--budget', '10:9']) == 2
    assert '1 <= BITS <= 8' in capsys.readouterr().err
