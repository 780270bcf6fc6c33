"""Data-parallel training under torchrun: 2 CPU ranks (gloo) end with the same weights.

Their losses are those of one process stepping on both ranks' batches with averaged gradients.
"""
from __future__ import annotations

from pathlib import Path
import random
import re
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from helpers import workspace_env
from rsdfm_core.model.config import load_config, merge, region_grid
from rsdfm_core.model.weights import build_model, load_checkpoint
from rsdfm_core.training.dataset import build_cache, Sequence, SequenceSpec
from rsdfm_core.training.distributed import backend, from_rank0, shard
from rsdfm_core.training.loop import _batches, collate, lr_at, model_loss, TRAIN_DEFAULTS

ITERATIONS = 3
SMALL = {
    'model': {'image_size': [160, 120], 'region': {'size_x': 48.0, 'size_y': 48.0}},
    'train': {'train_seeds': [11, 12], 'val_seeds': [11], 'frames_per_sequence': 6,
              'val_scenes': 1, 'log_every': 1, 'checkpoint_every': 100,
              'scenes_per_batch': 1},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


RESUME_WORKER = """
import sys
import torch
import torch.distributed as dist
from rsdfm_core.training.distributed import from_rank0, setup
rank, world = setup()
# rank 1 stands for a machine that cannot see the resume file rank 0 read
state = {'iteration': 7, 'weights': torch.arange(4.0)} if rank == 0 else None
torch.save(from_rank0(state, world), f'{sys.argv[1]}/rank{rank}.pt')
dist.destroy_process_group()
"""


def test_every_rank_resumes_from_the_state_rank_0_read(tmp_path):
    script = tmp_path / 'worker.py'
    script.write_text(RESUME_WORKER)
    torchrun = str(Path(sys.executable).with_name('torchrun'))
    proc = subprocess.run(
        [torchrun, '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port',
         str(free_port()), str(script), str(tmp_path)],
        env=workspace_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        got = torch.load(tmp_path / f'rank{rank}.pt', weights_only=False)
        assert got['iteration'] == 7
        assert torch.equal(got['weights'], torch.arange(4.0))
    assert from_rank0('alone', 1) == 'alone'


def test_the_backend_follows_the_device_the_loop_trains_on():
    assert backend(torch.device('cpu')) == 'gloo'
    assert backend(torch.device('cuda', 0)) == 'nccl'


def test_sequences_are_shared_round_robin_and_every_rank_needs_one():
    assert [shard(list(range(5)), r, 2) for r in (0, 1)] == [[0, 2, 4], [1, 3]]
    with pytest.raises(ValueError, match='3 ranks need at least 3 training sequences'):
        shard([1, 2], 0, 3)


@pytest.mark.slow
def test_two_ranks_match_one_process_stepping_on_both_batches(tmp_path):
    cfg = merge(load_config(None), SMALL)
    cfg['train']['cache_dir'] = str(tmp_path / 'cache')
    path = tmp_path / 'small.yaml'
    path.write_text(yaml.safe_dump(cfg))
    ck = tmp_path / 'ck.pt'
    torchrun = str(Path(sys.executable).with_name('torchrun'))
    proc = subprocess.run(
        [torchrun, '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port',
         str(free_port()), '-m', 'rsdfm_core.cli', 'train', '--config', str(path), '--out',
         str(ck), '--iterations', str(ITERATIONS), '--traj-iterations', '0'],
        env=workspace_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the two ranks write to one stderr: their lines may run together, so match the 16 digits
    ids = dict(re.findall(r'rank (\d) of 2: model_id ([0-9a-f]{16})', proc.stderr))
    assert set(ids) == {'0', '1'} and ids['0'] == ids['1'], proc.stderr[-3000:]
    assert 'the same on every rank' in proc.stderr
    net, _, extra = load_checkpoint(ck)                 # written once, by rank 0
    assert extra['iterations'] == ITERATIONS
    state = torch.load(ck.with_name(ck.name + '.resume.pt'), weights_only=False)
    ranks = [[h['loss'] for h in hist] for hist in state['history_ranks']]
    assert [len(r) for r in ranks] == [ITERATIONS, ITERATIONS]

    # the same steps in one process: each rank's batches from its shard and random stream,
    # the mean of the two losses backpropagated, clipped and stepped as the loop does
    torch.set_num_threads(1)
    tcfg = {**TRAIN_DEFAULTS, **cfg['train']}
    mcfg, grid = cfg['model'], region_grid(cfg['model'])
    ref = build_model(cfg, seed=tcfg['seed'])
    params = [p for n, p in ref.named_parameters() if not n.startswith('traj_head')]
    opt = torch.optim.AdamW(params, lr=tcfg['lr'], weight_decay=tcfg['weight_decay'])
    margin = max(int(round(lag * 10)) for lag in mcfg['history_lags_s'])
    streams = []
    for rank in (0, 1):
        seeds = shard(tcfg['train_seeds'], rank, 2)
        specs = [SequenceSpec(s, tcfg['frames_per_sequence'], tcfg['drones'],
                              tuple(tcfg['altitude']), tuple(tcfg['pitch'])) for s in seeds]
        seqs = [Sequence(p) for p in build_cache(tcfg['cache_dir'], specs, mcfg)]
        rng = random.Random(tcfg['seed'] + rank)
        streams.append((seqs, rng, _batches(seqs, tcfg, rng, margin)))
    ref.train()
    for it in range(ITERATIONS):
        for g in opt.param_groups:
            g['lr'] = lr_at(it, ITERATIONS, tcfg['lr'])
        losses = []
        for seqs, rng, batches in streams:
            b = collate(seqs, next(batches), grid, mcfg, 'cpu')
            losses.append(model_loss(ref, b, tcfg, rng)[0])
        for rank in (0, 1):
            assert losses[rank].item() == pytest.approx(ranks[rank][it], rel=1e-4, abs=1e-5), (
                it, rank, [x.item() for x in losses], ranks)
        opt.zero_grad(set_to_none=True)
        (sum(losses) / 2).backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
    # parameters (batch-norm statistics are rank 0's own batches in DDP, both ranks' here)
    got = dict(net.named_parameters())
    for key, value in ref.named_parameters():
        assert torch.allclose(got[key], value, rtol=1e-4, atol=1e-5), key
