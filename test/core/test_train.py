"""Training: a few optimisation steps lower the loss; `rsdfm train` writes a usable checkpoint.

The checkpoint is loadable and resumable.
"""
import random

import pytest
import torch
import yaml

from rsdfm_core.cli import main
from rsdfm_core.model.config import load_config, merge, region_grid
from rsdfm_core.model.weights import build_model, load_checkpoint
from rsdfm_core.training.dataset import build_cache, Sequence, SequenceSpec
from rsdfm_core.training.loop import collate, model_loss, TRAIN_DEFAULTS

torch.set_num_threads(1)
SMALL = {
    'model': {'image_size': [160, 120], 'region': {'size_x': 48.0, 'size_y': 48.0}},
    'train': {
        'train_seeds': [11],
        'val_seeds': [11],
        'frames_per_sequence': 6,
        'val_scenes': 1,
        'log_every': 1,
        'checkpoint_every': 2,
    },
}


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp('train')
    cfg = merge(load_config(None), SMALL)
    cfg['train']['cache_dir'] = str(d / 'cache')
    path = d / 'small.yaml'
    path.write_text(yaml.safe_dump(cfg))
    return d, cfg, path


@pytest.mark.parametrize('lift', ['relative', 'absolute'])
def test_a_few_steps_lower_the_loss(small, lift):
    d, cfg, _ = small
    cfg = merge(cfg, {'model': {'lift': lift}})
    mcfg = cfg['model']
    [p] = build_cache(cfg['train']['cache_dir'], [SequenceSpec(11, 6)], mcfg)
    seq = Sequence(p)
    grid = region_grid(mcfg)
    batch = collate([seq], [(0, 3)], grid, mcfg, 'cpu')
    assert int(batch['count'][0]) > 0, 'the scene should hold visible vehicles'
    if lift == 'absolute':      # 1 m depth bins: targets beyond an int8's 127 must survive
        targets = batch['bins'][batch['bins'] >= 0]
        assert int(targets.max()) > 127 and int(targets.min()) < 60
    net = build_model(cfg)
    net.train()
    tcfg = {**TRAIN_DEFAULTS, **cfg['train']}
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    losses = []
    for _ in range(12):
        loss, _ = model_loss(net, batch, tcfg, random.Random(0), train=False, budget=(128, 8))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_train_command_writes_a_resumable_checkpoint(small, capsys):
    d, cfg, path = small
    ck = d / 'ck.pt'
    assert (
        main(
            [
                'train',
                '--config',
                str(path),
                '--out',
                str(ck),
                '--iterations',
                '2',
                '--traj-iterations',
                '1',
            ]
        )
        == 0
    )
    net, conf, extra = load_checkpoint(ck)
    assert extra['iterations'] == 3 and conf['model']['image_size'] == [160, 120]
    err = capsys.readouterr().err
    assert 'ETA' in err and 'loss' in err
    assert (
        main(
            [
                'train',
                '--config',
                str(path),
                '--out',
                str(ck),
                '--iterations',
                '3',
                '--traj-iterations',
                '1',
                '--resume',
            ]
        )
        == 0
    )
    assert 'resumed at iteration 3' in capsys.readouterr().err
    assert load_checkpoint(ck)[2]['iterations'] == 4


def test_train_refuses_a_missing_config(tmp_path, capsys):
    assert (
        main(['train', '--config', str(tmp_path / 'nope.yaml'), '--out', str(tmp_path / 'x.pt')])
        == 2
    )
    assert 'config file not found' in capsys.readouterr().err
