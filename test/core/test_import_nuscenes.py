"""The way in for real data: a nuScenes-format dataset through the devkit into bags.

Then evaluation and fine-tuning on the imported bag.

The dataset is written by the test (test/nuscenes_fixture.py: simulated frames in the devkit's
layout, the ground 3.5 m up, a pedestrian among the boxes), so the import is checked against
the frames it came from.
"""
import json
from pathlib import Path
import shutil

import numpy as np
import pytest
import torch

from nuscenes_fixture import channel, write_nuscenes
from rsdfm_core.bag import read_frames
from rsdfm_core.bag.source import custom_data
from rsdfm_core.cli import main
from rsdfm_core.importers.nuscenes import (
    DatasetError, import_nuscenes, map_class, parse_class_map, SOURCE_KEY)
from rsdfm_core.model.weights import load_checkpoint
from rsdfm_core.regions import region_from_record, REGION_KEY
from rsdfm_core.training.targets import in_region, visible_ids
from rsdfm_core.world import Simulator, WorldConfig

GROUND_Z = 3.5
FRAMES = 5


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('nuscenes')
    sim = Simulator(WorldConfig(seed=5001, drones=4, dense_gt=False))
    frames = list(sim.frames(FRAMES))
    write_nuscenes(frames, root / 'data', ground_z=GROUND_Z)
    return root, frames


@pytest.fixture(scope='module')
def imported(dataset):
    root, frames = dataset
    rc = main(['import', 'nuscenes', '--dataroot', str(root / 'data'), '--version', 'v1.0-mini',
               '--out', str(root / 'bags')])
    assert rc == 0
    return root / 'bags' / 'scene-0001', frames


def test_import_keeps_poses_intrinsics_and_boxes(imported):
    bag, frames = imported
    got = list(read_frames(bag, require_ground_truth=True))
    assert len(got) == FRAMES
    ids: dict[int, int] = {}
    assert [f.stamp_ns // 1000 for f in got] == [f.stamp_ns // 1000 for f in frames]
    for want, have in zip(frames, got):
        assert [v.agent_id for v in have.views] == ['uav1', 'uav2', 'uav3', 'uav4']
        for vw, vh in zip(want.views, have.views):
            # ego_pose @ calibrated_sensor, shifted down by the ground found from the boxes
            np.testing.assert_allclose(vh.cam_to_map, vw.cam_to_map, atol=1e-4)
            np.testing.assert_allclose(vh.K, vw.K, atol=1e-9)
            assert vh.image.shape == vw.image.shape
            assert np.abs(vh.image.astype(int) - vw.image).mean() < 6   # JPEG twice
        seen = visible_ids(want.views, want.objects)
        truth = {o.track_id: o for o in want.objects if o.track_id in seen}
        assert len(have.objects) == len(truth) > 20, 'the pedestrian must be left out'
        by_pos = {(round(o.x, 3), round(o.y, 3)): o for o in truth.values()}
        for o in have.objects:
            w = by_pos[(round(o.x, 3), round(o.y, 3))]
            assert o.label == w.label
            assert (o.length, o.width, o.height) == pytest.approx((w.length, w.width, w.height))
            assert o.z == pytest.approx(w.z, abs=1e-6)
            assert np.cos(o.yaw - w.yaw) == pytest.approx(1.0, abs=1e-9)
            # one track id per dataset instance, the same in every frame
            assert ids.setdefault(w.track_id, o.track_id) == o.track_id
    assert len(set(ids.values())) == len(ids)


def test_import_records_region_source_and_class_map(imported):
    bag, _ = imported
    meta = custom_data(bag)
    grid = region_from_record(meta[REGION_KEY])
    assert grid.rows % 32 == 0 and grid.cols % 32 == 0 and grid.resolution == 1.0
    objects = [o for f in read_frames(bag) for o in f.objects]
    assert len(in_region(objects, grid)) == len(objects), 'the region must hold every box'
    source = json.loads(meta[SOURCE_KEY])
    assert source['dataset'] == 'nuscenes' and source['version'] == 'v1.0-mini'
    assert source['drones'] == {f'uav{i + 1}': channel(i) for i in range(4)}
    assert source['classes']['bus'] == ['vehicle.bus.rigid']
    assert source['left_out'] == {'human.pedestrian.adult': FRAMES}
    assert source['ground_z'] == pytest.approx(GROUND_Z, abs=1e-6)


def test_evaluate_an_imported_bag(imported, tmp_path):
    bag, _ = imported
    out = tmp_path / 'eval.json'
    assert main(['evaluate', '--bag', str(bag), '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res['region']['source'] == 'the bag'
    assert res['gt_outside_region'] == 0
    assert res['per_class']['dataset_classes']['car'] == ['vehicle.car']
    assert res['ap50'] is not None and res['ap50'] > 0.15
    # the simulator's region of the model: the round trip scores like the simulated frames
    assert main(['evaluate', '--bag', str(bag), '--region', 'model', '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res['region']['source'] == 'the model config'
    assert res['gt_outside_region'] > 0
    assert res['ap50'] > 0.7


def test_fine_tune_on_the_imported_bag_with_the_drone_side_frozen(imported, tmp_path):
    bag, _ = imported
    out = tmp_path / 'ft.pt'
    rc = main(['train', '--bags', str(bag.parent), '--init', '--freeze', 'drone',
               '--iterations', '3', '--traj-iterations', '1', '--out', str(out),
               '--cache-dir', str(tmp_path / 'cache')])
    assert rc == 0
    shipped, _, _ = load_checkpoint(None)
    tuned, cfg, _ = load_checkpoint(out)
    a, b = shipped.state_dict(), tuned.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(('encoder.', 'codec.')))
    changed = [k for k in a if k.startswith('decoder.') and not torch.equal(a[k], b[k])]
    assert changed, 'the fusion side should have trained'
    assert all(torch.isfinite(v).all() for v in b.values() if v.is_floating_point())
    res_path = tmp_path / 'eval.json'
    assert main(['evaluate', '--bag', str(bag), '--weights', str(out), '--max-frames', '2',
                 '--json', str(res_path)]) == 0
    assert json.loads(res_path.read_text())['frames'] == 2


def test_class_rules():
    rules = parse_class_map('vehicle.motorcycle=ignore,vehicle.van=car')
    assert map_class('vehicle.car', rules) == 'car'
    assert map_class('vehicle.bus.bendy', rules) == 'bus'
    assert map_class('vehicle.van', rules) == 'car'
    assert map_class('vehicle.motorcycle', rules) is None
    assert map_class('vehicle.carriage', rules) is None       # not a sub-category of vehicle.car
    assert map_class('human.pedestrian.adult', rules) is None
    with pytest.raises(DatasetError, match='LABEL one of'):
        parse_class_map('vehicle.car=plane')


@pytest.mark.parametrize('argv, message', [
    (['--version', 'v1.0-trainval'], 'v1.0-trainval does not exist (versions in'),
    (['--version', 'v1.0-mini', '--channels', 'CAM_FRONT'], 'no camera channel CAM_FRONT'),
    (['--version', 'v1.0-mini', '--scenes', 'scene-9999'], 'no scene scene-9999'),
])
def test_import_errors_name_what_is_wrong(dataset, tmp_path, capsys, argv, message):
    root, _ = dataset
    rc = main(['import', 'nuscenes', '--dataroot', str(root / 'data'), '--out',
               str(tmp_path / 'bags'), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and 'Traceback' not in err


def test_a_missing_image_is_named(dataset, tmp_path, capsys):
    root, _ = dataset
    data = tmp_path / 'data'
    shutil.copytree(root / 'data', data)
    victim = sorted((data / 'samples' / channel(2)).iterdir())[1]
    victim.unlink()
    rc = main(['import', 'nuscenes', '--dataroot', str(data), '--version', 'v1.0-mini',
               '--out', str(tmp_path / 'bags')])
    err = capsys.readouterr().err
    assert rc == 2 and victim.name in err and 'Traceback' not in err


def test_import_refuses_to_overwrite(imported, dataset):
    root, _ = dataset
    with pytest.raises(DatasetError, match='already exists'):
        import_nuscenes(root / 'data', 'v1.0-mini', Path(root / 'bags'))


def test_replay_says_how_to_fuse_an_imported_bags_region(imported, tmp_path):
    from rsdfm_bringup.commands.replay import region_hint
    bag, _ = imported
    grid = region_from_record(custom_data(bag)[REGION_KEY])
    hint = region_hint(str(bag))
    assert f'region_size:={max(grid.rows, grid.cols) * grid.resolution:g}' in hint
    assert 'region_center_x:=' in hint
    assert region_hint(str(tmp_path)) == ''          # no metadata, no region: nothing to say


def test_a_malformed_record_is_named_not_a_traceback(dataset, tmp_path, capsys):
    root, _ = dataset
    data = tmp_path / 'data'
    shutil.copytree(root / 'data', data)
    table = data / 'v1.0-mini' / 'sample_annotation.json'
    rows = json.loads(table.read_text())
    del rows[3]['size']
    table.write_text(json.dumps(rows))
    rc = main(['import', 'nuscenes', '--dataroot', str(data), '--version', 'v1.0-mini',
               '--out', str(tmp_path / 'bags')])
    err = capsys.readouterr().err
    assert rc == 2 and 'scene-0001' in err and "KeyError: 'size'" in err
    assert 'Traceback' not in err
