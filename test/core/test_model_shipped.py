"""The shipped checkpoints load, carry their config, and give the recorded figures.

The figures are those of a small held-out run.
"""
import json

import pytest
import torch

from rsdfm_core.model.runtime import Runtime
from rsdfm_core.model.weights import ABSDEPTH_WEIGHTS, DEFAULT_WEIGHTS, load_checkpoint

torch.set_num_threads(1)
shipped = pytest.mark.skipif(not DEFAULT_WEIGHTS.exists(), reason='no shipped weights yet')


@shipped
def test_shipped_weights_are_small_and_load_by_default():
    assert DEFAULT_WEIGHTS.stat().st_size <= 20 * 1024 * 1024
    rt = Runtime.load()
    assert rt.config['model']['lift'] == 'relative'
    assert rt.model_id == Runtime.load(str(DEFAULT_WEIGHTS)).model_id
    assert not rt.extra.get('random_init')


@pytest.mark.skipif(not ABSDEPTH_WEIGHTS.exists(), reason='no shipped absolute-depth weights yet')
def test_absolute_depth_weights_are_the_lss_variant():
    assert ABSDEPTH_WEIGHTS.stat().st_size <= 20 * 1024 * 1024
    net, cfg, _ = load_checkpoint(ABSDEPTH_WEIGHTS)
    assert cfg['model']['lift'] == 'absolute'
    # the fair baseline: depth bins 1 m apart over the distances the cameras see the ground at
    bins = net.bins.numpy()
    assert bins.min() <= 33.0 and bins.max() >= 170.0
    assert float(abs(bins[1:] - bins[:-1]).max()) <= 1.0 + 1e-4


@shipped
@pytest.mark.slow
def test_shipped_model_gives_the_recorded_figures_on_a_held_out_run():
    from rsdfm_core.training.shipped_check import FIGURES, measure
    expected = json.loads(FIGURES.read_text())
    got = measure()
    assert got['model_id'] == expected['model_id'], (
        'shipped_figures.json was recorded with other weights'
    )
    for mode in ('collaborative', 'single'):
        for key in ('ap50', 'ap70', 'iou'):
            assert got[mode][key] == pytest.approx(expected[mode][key], abs=0.03), (mode, key)
    # collaboration must help on this run too
    assert got['collaborative']['ap50'] > got['single']['ap50']
