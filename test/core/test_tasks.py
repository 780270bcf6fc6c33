"""New BEV tasks on the fused maps: their truth, a head trained on the frozen model, its score.

The head learns on the fused maps of the shipped model without touching it (same model_id, so
the drones' software and bytes are unchanged), is a small file of its own, refuses to run
beside another model, and `rsdfm evaluate --task` scores it on a simulated bag.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rsdfm_core
from rsdfm_core.cli import main
from rsdfm_core.geometry import BevGrid
from rsdfm_core.graph import fleet_graph, GraphError
from rsdfm_core.model.runtime import Runtime
from rsdfm_core.tasks.head import load_head, save_head, TaskHead, TaskPredictor
from rsdfm_core.tasks.layers import building_mask, road_mask, stationary_mask, task_mask, TASKS
from rsdfm_core.types import ObjectState
from rsdfm_core.world import Simulator, WorldConfig
from rsdfm_core.world.simulator import town_from_record, town_of, world_record

GRID = BevGrid.centred(0.0, 0.0, 128.0, 128.0, 1.0)


@pytest.fixture(scope='module')
def town():
    return town_of(7, 240.0)


def _cell(xy):
    c, r = GRID.map_to_cells(np.array([xy]))[0]
    return int(r), int(c)


def test_town_of_a_seed_is_the_simulators_town():
    sim = Simulator(WorldConfig(seed=11, dense_gt=False))
    again = town_of(11, sim.config.town_size)
    np.testing.assert_array_equal(again.road_xs, sim.town.road_xs)
    np.testing.assert_array_equal(again.buildings.centre, sim.town.buildings.centre)
    rebuilt = town_from_record(world_record(sim.config))
    np.testing.assert_array_equal(rebuilt.road_ys, sim.town.road_ys)
    with pytest.raises(ValueError, match='not a world record'):
        town_from_record('{"seed": "x"}')


def test_road_is_the_carriageway_and_buildings_their_footprints(town):
    road = road_mask(town, GRID)
    x = next(v for v in town.road_xs if abs(v) < 50)
    y = next(v for v in np.arange(-60.0, 60.0, 0.5)
             if min(abs(v - r) for r in town.road_ys) > 12)      # away from crossing roads
    assert road[_cell((x, y))] and road[_cell((x + 4.5, y))]
    assert not road[_cell((x + town.road_half_width + 1.5, y))]       # the sidewalk
    building = building_mask(town, GRID)
    b = town.buildings
    inside = [i for i in range(len(b.yaw)) if np.all(np.abs(b.centre[i, :2]) < 55)]
    assert inside, 'the test town has buildings in the region'
    for i in inside:
        assert building[_cell(b.centre[i, :2])]
        assert not road[_cell(b.centre[i, :2])]
    area = sum(4 * b.half[i, 0] * b.half[i, 1] for i in range(len(b.yaw))
               if np.all(np.abs(b.centre[i, :2]) + b.half[i, :2] < 64))
    assert area <= building.sum() <= area * 1.3 + 400


def test_stationary_keeps_only_the_vehicles_standing_still():
    parked = ObjectState(1, 'car', 10.0, 10.0, 0.75, 4.5, 1.9, 1.5, 0.0, 0.0, 0.1)
    moving = ObjectState(2, 'car', -10.0, -10.0, 0.75, 4.5, 1.9, 1.5, 0.0, 5.0, 0.0)
    m = stationary_mask([parked, moving], GRID)
    assert m[_cell((10.0, 10.0))] and not m[_cell((-10.0, -10.0))]
    assert 6 <= m.sum() <= 12                       # one car footprint of 8.6 m^2
    with pytest.raises(ValueError, match='known tasks are road, building, stationary'):
        task_mask('parking', None, [], GRID)
    with pytest.raises(ValueError, match='needs the town'):
        task_mask('road', None, [], GRID)


def test_a_head_file_is_small_and_only_runs_beside_its_model(tmp_path):
    rt = Runtime.load(None, threads=1)
    head = TaskHead(rt.config['model']['fused_channels'])
    save_head(tmp_path / 'h.pt', head, 'road', rt.model_id)
    model_file = Path(rsdfm_core.__file__).parent / 'data' / 'rsdfm.pt'
    assert (tmp_path / 'h.pt').stat().st_size < 0.05 * model_file.stat().st_size   # ~115 kB
    pred = TaskPredictor(rt, tmp_path / 'h.pt')
    assert pred.task == 'road' and pred.mask(np.zeros((32, 8, 8), np.float16)).shape == (8, 8)
    with pytest.raises(ValueError, match=r'must be \(32, rows, cols\)'):
        pred.mask(np.zeros((3, 8, 8), np.float16))
    with pytest.raises(ValueError, match='is a head for task .road., not .building.'):
        TaskPredictor(rt, tmp_path / 'h.pt', 'building')
    save_head(tmp_path / 'other.pt', head, 'road', '0123456789abcdef')
    with pytest.raises(ValueError, match='model 0123456789abcdef, but the loaded model is'):
        TaskPredictor(rt, tmp_path / 'other.pt')
    (tmp_path / 'junk.pt').write_bytes(b'not a head')
    with pytest.raises(ValueError, match='not a readable task head'):
        load_head(tmp_path / 'junk.pt')


def test_every_task_has_a_shipped_head_for_the_shipped_model():
    rt = Runtime.load(None, threads=1)
    for task in TASKS:
        pred = TaskPredictor(rt, task=task)              # what task_node loads by default
        info = pred.meta['info']
        assert pred.task == task and info['unfreeze'] == 'none', info
        assert 0.2 < info['iou'] <= 1.0, info            # its held-out score, as trained


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train a road head in a few iterations on 2 scenes, scored on 1 held-out scene."""
    d = tmp_path_factory.mktemp('heads')
    before = Runtime.load(None, threads=1).model_id
    code = main(['train-head', '--task', 'road', '--out', str(d / 'road.pt'), '--seeds', '3',
                 '--test-seeds', '4', '--frames', '2', '--iterations', '40', '--lr', '0.01',
                 '--cache-dir', str(d / 'cache'), '--json', str(d / 'road.json')])
    assert code == 0
    return d, before


def test_train_head_learns_on_the_frozen_model(trained):
    d, before = trained
    result = json.loads((d / 'road.json').read_text())
    head, meta = load_head(d / 'road.pt')
    assert meta['task'] == 'road' and meta['model_id'] == before == result['model_id']
    assert Runtime.load(None, threads=1).model_id == before         # the drone side untouched
    assert 0.0 <= result['iou'] <= 1.0 and result['scenes'] == 2
    # a road layer covers ~40 % of a town: the trained head beats 'no road anywhere' (IoU 0)
    assert result['iou'] > 0.2, result
    assert list(d.glob('cache/scenes_*.npz')), 'rendered scenes are cached for the next head'


@pytest.mark.parametrize('unfreeze', ['fusion', 'all'])
def test_the_unfrozen_comparisons_train_a_copy_and_write_no_head(trained, unfreeze, tmp_path):
    d, before = trained
    out = tmp_path / 'road.pt'
    assert main(['train-head', '--task', 'road', '--out', str(out), '--seeds', '3',
                 '--test-seeds', '4', '--frames', '2', '--iterations', '3', '--batch', '2',
                 '--unfreeze', unfreeze, '--cache-dir', str(d / 'cache'),
                 '--json', str(tmp_path / 'r.json')]) == 0
    result = json.loads((tmp_path / 'r.json').read_text())
    assert result['unfreeze'] == unfreeze and 0.0 <= result['iou'] <= 1.0
    assert not out.exists(), 'a head that needs a changed model must not look deployable'
    assert Runtime.load(None, threads=1).model_id == before


def test_a_head_with_history_reads_the_scene_before(trained, tmp_path, capsys):
    """Train with --history: 2 Cf channels, scored on the scenes that have one (and a bag)."""
    d, before = trained
    out = tmp_path / 'stationary.pt'
    assert main(['train-head', '--task', 'stationary', '--out', str(out), '--seeds', '3',
                 '--test-seeds', '4', '--frames', '2', '--iterations', '3', '--batch', '2',
                 '--history', '--cache-dir', str(d / 'cache'),
                 '--json', str(tmp_path / 's.json')]) == 0
    result = json.loads((tmp_path / 's.json').read_text())
    assert result['scenes'] == 1 and result['history_s'] == 0.5, result   # 2nd scene of 2
    head, meta = load_head(out)
    rt = Runtime.load(None, threads=1)
    assert meta['channels'] == 2 * rt.config['model']['fused_channels']
    assert meta['history_s'] == 0.5 and meta['model_id'] == before
    bag = tmp_path / 'bag'
    assert main(['simulate', '--out', str(bag), '--seed', '5', '--frames', '8', '--drones', '2',
                 '--no-dense-gt']) == 0
    capsys.readouterr()
    assert main(['evaluate', '--bag', str(bag), '--task', 'stationary', '--head', str(out),
                 '--json', str(tmp_path / 'e.json')]) == 0
    res = json.loads((tmp_path / 'e.json').read_text())
    # frames 4-7 at 10 Hz: frame 4 pairs with frame 0, 0.4 s before (within the 0.1 s tolerance)
    assert res['frames'] == 8 and res['frames_scored'] == 4, res
    short = tmp_path / 'short'
    assert main(['simulate', '--out', str(short), '--seed', '5', '--frames', '2', '--drones', '2',
                 '--no-dense-gt']) == 0
    capsys.readouterr()
    assert main(['evaluate', '--bag', str(short), '--task', 'stationary', '--head', str(out)]) == 2
    assert 'none of the 2 frames has one that old before it' in capsys.readouterr().err


def test_a_predictor_with_history_pairs_each_map_with_the_one_history_s_before(tmp_path):
    rt = Runtime.load(None, threads=1)
    Cf = rt.config['model']['fused_channels']
    save_head(tmp_path / 'h.pt', TaskHead(2 * Cf), 'stationary', rt.model_id,
              {'history_s': 0.5})
    pred = TaskPredictor(rt, tmp_path / 'h.pt')
    fmap = np.zeros((Cf, 8, 8), np.float16)
    s = 1_000_000_000
    assert pred.layer_at(10 * s, fmap) is None                     # nothing 0.5 s before yet
    assert pred.layer_at(10 * s + s // 10, fmap) is None
    assert pred.layer_at(10 * s + s // 2, fmap).shape == (8, 8)    # pairs with 10.0 s
    assert pred.layer_at(10 * s + 6 * s // 10, fmap) is not None    # pairs with 10.1 s
    assert pred.layer_at(12 * s, fmap) is None                     # after a gap: none again
    assert len(pred._recent) == 1                                  # the old maps were dropped
    with pytest.raises(ValueError, match='needs the fused map of 0.5 s before'):
        pred.mask(fmap)
    with pytest.raises(ValueError, match=rf'must be \({Cf}, rows, cols\)'):
        pred.layer_at(13 * s, np.zeros((3, 8, 8), np.float16))


def test_history_pairs_stay_inside_a_seed():
    from rsdfm_core.tasks.scenes import Scenes
    scenes = Scenes(np.zeros((6, 1, 1, 2, 2)), np.zeros((6, 1, 2, 2), bool), {}, per_seed=3)
    assert scenes.with_history().tolist() == [1, 2, 4, 5]      # never the first of a seed
    assert Scenes(scenes.maps, scenes.valid, {}).with_history().tolist() == []


def test_evaluate_scores_a_task_on_a_simulated_bag(trained, tmp_path, capsys):
    d, _ = trained
    bag = tmp_path / 'bag'
    assert main(['simulate', '--out', str(bag), '--seed', '5', '--frames', '2', '--drones', '2',
                 '--no-dense-gt']) == 0
    capsys.readouterr()
    assert main(['evaluate', '--bag', str(bag), '--task', 'road', '--head', str(d / 'road.pt'),
                 '--json', str(tmp_path / 'e.json')]) == 0
    res = json.loads((tmp_path / 'e.json').read_text())
    assert res['task'] == 'road' and res['frames'] == 2 and res['iou'] > 0.2, res


def test_evaluate_task_refuses_what_it_cannot_score(trained, tmp_path, capsys):
    d, _ = trained
    bag = tmp_path / 'bag'
    assert main(['simulate', '--out', str(bag), '--frames', '1', '--drones', '1',
                 '--no-dense-gt']) == 0
    meta = bag / 'metadata.yaml'
    meta.write_text(meta.read_text().replace('rsdfm.world', 'other.key'))
    for args, words in ((['--task', 'road', '--head', str(d / 'road.pt')], 'does not say which'),
                        (['--task', 'parking'], 'known tasks are'),
                        (['--head', str(d / 'road.pt')], '--head needs --task'),
                        (['--task', 'road', '--mode', 'late'], 'collaborative fused map')):
        capsys.readouterr()
        assert main(['evaluate', '--bag', str(bag), *args]) == 2, args
        err = capsys.readouterr().err
        assert words in err and 'Traceback' not in err, err


def test_the_graph_starts_one_task_node_per_task():
    graph = fleet_graph(namespaces=['uav1'], tasks='road,stationary=/tmp/h.pt')
    road = graph.node('/road_task_node')
    assert road.executable == 'task_node' and road.parameters['task'] == 'road'
    assert graph.node('/stationary_task_node').parameters['head'] == '/tmp/h.pt'
    assert len(graph.nodes) == 1 + 4 + 2
    for bad in ('Road', 'road,road', '2road=h.pt'):
        with pytest.raises(GraphError):
            fleet_graph(namespaces=['uav1'], tasks=bad)
    assert set(TASKS) == {'road', 'building', 'stationary'}
    assert torch.is_tensor(TaskHead(32)(torch.zeros(1, 32, 4, 4)))
