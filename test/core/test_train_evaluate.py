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


def evaluate_json(bag, tmp_path, name, *extra) -> dict:
    out = tmp_path / f'{name}.json'
    assert main(['evaluate', '--bag', str(bag), '--json', str(out), *extra]) == 0
    return json.loads(out.read_text())


def test_zero_fleet_errors_give_the_same_figures_and_noise_is_reproducible(bag, tmp_path, capsys):
    plain = evaluate_json(bag, tmp_path, 'plain')
    zero = evaluate_json(bag, tmp_path, 'zero', '--pose-noise', '0,0', '--delay', '0')
    figures = ('ap50', 'ap70', 'iou', 'pq', 'bytes_per_agent_frame', 'centre_offset_m')
    assert {k: zero[k] for k in figures} == {k: plain[k] for k in figures}
    noisy = [evaluate_json(bag, tmp_path, f'noisy{i}', '--pose-noise', '3,3', '--seed', '4',
                           '--reference', 'none') for i in range(2)]
    assert noisy[0]['fleet_errors'] == {
        'position_sigma_m': 3.0, 'rotation_sigma_deg': 3.0, 'delay_ms': 0.0, 'reference': None,
        'drones': ['uav1', 'uav2'], 'seed': 4, 'delay_frames': 0, 'frames_left_out': 0}
    assert {k: noisy[0][k] for k in figures} == {k: noisy[1][k] for k in figures}
    # every drone errs: the whole map sits off the world in each frame, a different way each time
    assert zero['frame_offset_m'] == plain['frame_offset_m'] < 0.5
    assert noisy[0]['frame_offset_frames'] >= 1
    assert noisy[0]['frame_offset_m'] == noisy[1]['frame_offset_m'] > plain['frame_offset_m'] + 0.5
    one = evaluate_json(bag, tmp_path, 'one', '--drones', 'uav2')
    assert one['fleet_errors']['drones'] == ['uav2'] and one['fleet_errors']['reference'] == 'uav2'
    assert plain['misplacement'] is None and zero['misplacement'] is None


def test_delay_and_every_drone_named_from_the_command_line(bag, tmp_path, capsys):
    """One frame period of delay leaves out the first frame; naming every drone changes nothing."""
    plain = evaluate_json(bag, tmp_path, 'plain')
    late = evaluate_json(bag, tmp_path, 'late', '--delay', '100')
    assert late['fleet_errors']['delay_frames'] == 1
    assert late['fleet_errors']['frames_left_out'] == 1
    assert late['frames'] == plain['frames'] - 1
    named = evaluate_json(bag, tmp_path, 'named', '--drones', 'uav1,uav2')
    figures = ('ap50', 'ap70', 'iou', 'pq', 'bytes_per_agent_frame', 'frames')
    assert {k: named[k] for k in figures} == {k: plain[k] for k in figures}


def test_pose_noise_reports_how_far_the_maps_put_the_ground(bag, tmp_path, capsys):
    """Before: where the believed poses put it; after: what the alignment left of that."""
    off = evaluate_json(bag, tmp_path, 'off', '--pose-noise', '2,2')
    before = off['misplacement']['before']
    assert off['misplacement']['after'] is None
    assert before['drone_frames'] == 2                 # uav2 in 2 frames; uav1 is exact
    assert before['median_m'] > 0.5 and before['median_deg'] > 0.0
    for signal in ('decoded', 'maps'):
        aligned = evaluate_json(bag, tmp_path, signal, '--pose-noise', '2,2', '--align', 'keep',
                                '--align-signal', signal)
        assert aligned['misplacement']['before'] == before
        after = aligned['misplacement']['after']
        assert after['drone_frames'] == 2 and after['median_m'] >= 0.0
        assert sum(aligned['alignment'][s] for s in ('aligned', 'unchanged', 'no_overlap')) == 2


@pytest.mark.parametrize('extra, words', [
    (['--pose-noise', '1'], 'METRES,DEGREES'),
    (['--pose-noise', '1,-2'], 'DEGREES >= 0'),
    (['--delay', '-5'], '--delay must be'),
    (['--delay', '150'], 'not a whole number of frame periods'),
    (['--drones', 'uav1,uav7'], 'uav7 not in the bag'),
    (['--drones', 'uav1,'], 'comma-separated list'),
    (['--reference', 'uav5'], 'reference drone uav5'),
])
def test_bad_fleet_errors_are_clear_errors(bag, extra, words, capsys):
    assert main(['evaluate', '--bag', str(bag), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and 'Traceback' not in err


@pytest.mark.parametrize('option, key', [('--centre-votes', 'centre_votes'),
                                         ('--heat-centres', 'heat_centres')])
def test_box_centre_refinements_are_options_of_the_evaluation(bag, tmp_path, capsys, option,
                                                              key):
    out = tmp_path / 'refined.json'
    assert main(['evaluate', '--bag', str(bag), option, '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res[key] is True and KEYS <= set(res) and res['frames'] == 2
    other = ({'centre_votes', 'heat_centres'} - {key}).pop()
    assert res[other] is False
