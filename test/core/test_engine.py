"""ONNX Runtime as the engine of chosen parts: eager's outputs, cached files, eager fallback."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from rsdfm_core.model.engine import (example_inputs, GROUND_PARTS, OrtModule, RTOL, use_engine,
                                     with_ground_engines)


class Convs(nn.Module):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 4, 1))

    def forward(self, x):
        return self.body(x)


class NotExportable(nn.Module):

    def forward(self, x):
        return torch.linalg.inv(x)       # ONNX has no operator for it


def test_ort_module_agrees_with_eager_and_reuses_its_exported_file(tmp_path):
    eager = Convs().eval()
    x = torch.rand(1, 3, 24, 32)
    warnings = []
    ort = OrtModule(eager, 'convs', 'abc', directory=tmp_path, warn=warnings.append)
    with torch.no_grad():
        got, want = ort(x), eager(x)
    assert ort.engaged() and warnings == []
    assert torch.allclose(got, want, rtol=RTOL, atol=1e-4)
    files = list(tmp_path.glob('abc_convs_*.onnx'))
    assert len(files) == 1 and list(tmp_path.iterdir()) == files, list(tmp_path.iterdir())
    stamp = files[0].stat().st_mtime_ns
    again = OrtModule(eager, 'convs', 'abc', directory=tmp_path, warn=warnings.append)
    with torch.no_grad():
        assert torch.allclose(again(x), want, rtol=RTOL, atol=1e-4)
    assert files[0].stat().st_mtime_ns == stamp, 'the cached file was exported again'
    with torch.no_grad():                                   # another size: another file
        ort(torch.rand(1, 3, 16, 16))
    assert len(list(tmp_path.glob('abc_convs_*.onnx'))) == 2


def test_a_part_that_cannot_be_exported_stays_eager_and_says_so(tmp_path):
    warnings = []
    ort = OrtModule(NotExportable(), 'odd', 'abc', directory=tmp_path, warn=warnings.append)
    x = torch.eye(3)[None] + 0.1 * torch.rand(1, 3, 3)
    assert torch.equal(ort(x), torch.linalg.inv(x))
    assert not ort.engaged()
    assert len(warnings) == 1 and 'odd' in warnings[0] and 'runs eager' in warnings[0], warnings


class Noisy(nn.Module):

    def forward(self, x):
        return x + torch.rand_like(x)     # exports fine, never agrees with eager


def test_a_part_that_disagrees_is_noted_once_and_not_exported_again(tmp_path):
    x = torch.rand(1, 3, 8, 8)
    first, again = [], []
    ort = OrtModule(Noisy(), 'noisy', 'abc', directory=tmp_path, warn=first.append)
    with torch.no_grad():
        ort(x)
    assert not ort.engaged() and len(first) == 1 and 'disagrees with eager' in first[0], first
    assert [f.suffix for f in tmp_path.iterdir()] == ['.rejected'], list(tmp_path.iterdir())
    later = OrtModule(Noisy(), 'noisy', 'abc', directory=tmp_path, warn=again.append)
    with torch.no_grad():
        later(x)
    assert not later.engaged() and len(again) == 1 and 'checked earlier' in again[0], again
    assert [f.suffix for f in tmp_path.iterdir()] == ['.rejected'], 'exported again'


def test_use_engine_swaps_parts_and_torch_puts_them_back(tmp_path, monkeypatch):
    from rsdfm_core.model.runtime import Runtime

    monkeypatch.setenv('RSDFM_ONNX_CACHE', str(tmp_path))
    rt = Runtime.load(None, threads=1)
    before = {k: v.clone() for k, v in rt.net.state_dict().items()}
    x = example_inputs(rt.net.seg_head, rt.config, 'seg_head')
    assert x[0].shape == (1, rt.config['model']['fused_channels'], rt.region.rows,
                          rt.region.cols)
    with torch.no_grad():
        want = rt.net.seg_head(*x)
        engaged = use_engine(rt.net, 'onnxruntime', ('seg_head', 'encoder'), rt.model_id,
                             rt.config)
        assert engaged == ['seg_head', 'encoder']
        assert isinstance(rt.net.seg_head, OrtModule)
        assert torch.allclose(rt.net.seg_head(*x), want, rtol=RTOL, atol=1e-4)
    assert use_engine(rt.net, 'torch', ('seg_head', 'encoder'), rt.model_id, rt.config) == []
    assert not isinstance(rt.net.seg_head, OrtModule)
    after = rt.net.state_dict()
    assert set(after) == set(before) and all(torch.equal(after[k], before[k]) for k in before)
    with pytest.raises(ValueError, match='engine must be one of torch, onnxruntime'):
        use_engine(rt.net, 'tensorrt', ('encoder',), rt.model_id, rt.config)


def test_with_ground_engines_runs_the_nodes_parts_in_ort_on_a_copy():
    """The nodes' defaults, as bench and `make setup` build them; the given runtime unchanged.

    Uses the cache `make setup` filled, as a node does (it exports there if it is empty).
    """
    from rsdfm_core.model.runtime import Runtime

    rt = Runtime.load(None, threads=1)
    ground, engaged = with_ground_engines(rt)
    assert engaged == list(GROUND_PARTS)
    assert all(isinstance(getattr(ground.net, p), OrtModule) for p in GROUND_PARTS)
    assert not any(isinstance(getattr(rt.net, p), OrtModule) for p in GROUND_PARTS)
    assert ground.model_id == rt.model_id and ground.region == rt.region
