"""The training loop behind `rsdfm train`.

Cached simulator data, end-to-end model loss, then the trajectory head on the frozen model;
progress with ETA on stderr, resumable checkpoints.
"""
from __future__ import annotations

import math
from pathlib import Path
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from rsdfm_core.model.config import region_grid
from rsdfm_core.model.heads import DET_CHANNELS, TRAJ_SCALE
from rsdfm_core.model.network import RsdfmNet
from rsdfm_core.model.weights import build_model, load_checkpoint, model_id, save_checkpoint
from rsdfm_core.training import distributed, fleet_augment
from rsdfm_core.training.bag_data import bag_cache
from rsdfm_core.training.dataset import build_cache, HEIGHT_SOURCES, Sequence, SequenceSpec
from rsdfm_core.training.losses import bin_cross_entropy, focal_heatmap_loss, gather_at, masked_l1

TRAIN_DEFAULTS = {
    'train_seeds': list(range(100, 116)),
    'val_seeds': [900, 901],
    'frames_per_sequence': 60,
    'altitude': [40.0, 120.0],
    'pitch': [30.0, 70.0],
    'drones': 4,
    # 'auto': the simulator's dense height/depth images; 'boxes': from the boxes only, as for
    # a bag (training/box_heights.py), to measure what box-only labels cost
    'height_source': 'auto',
    # fleet errors drawn in training (training/fleet_augment.py; off by default)
    **fleet_augment.DEFAULTS,
    'iterations': 3000,
    'traj_iterations': 600,
    'scenes_per_batch': 2,
    'lr': 2e-3,
    'weight_decay': 1e-4,
    'checkpoint_every': 200,
    'log_every': 20,
    'val_scenes': 8,
    'seed': 0,
    'cache_dir': 'cache/train',
    'budgets_topk': [256, 512, 1024, 2048, 4096],
    'budgets_bits': [4, 5, 6, 8],
    'codec_probability': 0.8,
    'single_drone_probability': 0.25,
    'subset_probability': 0.2,
    'weights': {
        'heatmap': 1.0,
        'reg': 1.0,
        'vel': 0.1,
        'seg': 1.0,
        'centre': 1.0,
        'seg_offset': 0.2,
        'bins': 0.5,
        'saliency': 0.2,
        'traj': 1.0,
    },
}


def log(msg: str, log_file=None) -> None:
    """Write one line to stderr (and log_file).

    One write per line, so the lines of ranks sharing a terminal do not run together.
    """
    sys.stderr.write(msg + '\n')
    sys.stderr.flush()
    if log_file is not None:
        log_file.write(msg + '\n')
        log_file.flush()


def collate(seqs: list[Sequence], picks: list[tuple[int, int]], grid, mcfg: dict, device,
            errors: dict | None = None, rng: random.Random | None = None) -> dict:
    """Stack the inputs and targets of scenes picks [(sequence index, frame)].

    errors: training settings with fleet errors to draw (training/fleet_augment.py) with rng.
    """
    imgs, Ks, poses, bins = [], [], [], []
    tg = {
        k: []
        for k in (
            'heatmap',
            'centre',
            'mask',
            'seg_offset',
            'index',
            'reg',
            'traj',
            'traj_mask',
            'count',
        )
    }
    key = 'hbin' if mcfg['lift'] == 'relative' else 'dbin'
    for si, t in picks:
        s = seqs[si]
        if errors is not None and fleet_augment.active(errors):
            views = fleet_augment.scene_views(s, t, key, errors, rng)
        else:
            views = (s.images[t], s.poses[t], getattr(s, key)[t])
        imgs.append(views[0])
        Ks.append(s.K[t])
        poses.append(views[1].astype(np.float32))
        bins.append(views[2])
        for k, v in s.targets(t, grid, mcfg['future_steps'], mcfg['future_dt']).items():
            if k in tg:
                tg[k].append(v)
    G, N = len(picks), imgs[0].shape[0]
    out = {k: torch.from_numpy(np.stack(v)).to(device) for k, v in tg.items()}
    out['images'] = (
        torch.from_numpy(np.concatenate(imgs)).to(device).permute(0, 3, 1, 2).float() / 255.0
    )
    out['K'] = torch.from_numpy(np.concatenate(Ks)).to(device)
    out['poses'] = torch.from_numpy(np.concatenate(poses)).to(device)
    out['bins'] = torch.from_numpy(np.concatenate(bins)).long().to(device)
    out['G'], out['N'], out['grid'] = G, N, grid
    return out


def drone_masks(G: int, N: int, cfg: dict, rng: random.Random) -> torch.Tensor:
    """(G, N) bool: which drones take part in each scene (single drone / random subset / all)."""
    m = torch.ones(G, N, dtype=torch.bool)
    for g in range(G):
        u = rng.random()
        if u < cfg['single_drone_probability']:
            m[g] = False
            m[g, rng.randrange(N)] = True
        elif u < cfg['single_drone_probability'] + cfg['subset_probability']:
            keep = rng.sample(range(N), rng.randint(2, max(2, N - 1))) if N > 2 else range(N)
            m[g] = False
            m[g, list(keep)] = True
    return m


def model_loss(net: RsdfmNet, b: dict, cfg: dict, rng: random.Random, train: bool = True,
               budget: tuple[int, int] | None = None) -> tuple[torch.Tensor, dict]:
    """End-to-end loss of one batch and its parts (floats)."""
    w = cfg['weights']
    grid = b['grid']
    G, N = b['G'], b['N']
    x, valid, logits = net.drone_bev(b['images'], b['K'], b['poses'], grid)
    use_codec = budget is not None or rng.random() < cfg['codec_probability']
    if use_codec:
        topk, bits = budget or (rng.choice(cfg['budgets_topk']), rng.choice(cfg['budgets_bits']))
        x, sal = net.codec(x, valid, topk, bits)
    else:
        sal = net.codec.saliency(x)[:, 0]
    if train:
        keep = drone_masks(G, N, cfg, rng).to(x.device).view(G * N)
        valid = valid & keep[:, None, None]
        x = x * keep[:, None, None, None].to(x.dtype)
    C, R, W = x.shape[1:]
    fused = net.fuse(x.view(G, N, C, R, W), valid.view(G, N, R, W))
    det, seg = net.heads(fused)
    parts = {}
    parts['heatmap'] = focal_heatmap_loss(det[:, DET_CHANNELS['heatmap']], b['heatmap'])
    regp = gather_at(det[:, 3:13], b['index'])  # (G, M, 10)
    m = (torch.arange(b['index'].shape[1], device=x.device)[None] < b['count'][:, None]).float()[
        ..., None
    ]
    parts['reg'] = masked_l1(regp[..., :8], b['reg'][..., :8], m.expand(-1, -1, 8))
    parts['vel'] = masked_l1(regp[..., 8:], b['reg'][..., 8:], m.expand(-1, -1, 2))
    parts['seg'] = F.binary_cross_entropy_with_logits(
        seg[:, 0], b['mask'], pos_weight=torch.tensor(3.0)
    )
    parts['centre'] = focal_heatmap_loss(seg[:, 1], b['centre'])
    parts['seg_offset'] = masked_l1(
        seg[:, 2:4], b['seg_offset'], b['mask'][:, None].expand(-1, 2, -1, -1)
    )
    parts['bins'] = bin_cross_entropy(logits, b['bins'])
    sal_target = F.max_pool2d(b['mask'][:, None], 3, 1, 1)[:, 0].repeat_interleave(N, 0)
    parts['saliency'] = F.binary_cross_entropy_with_logits(
        sal, sal_target, pos_weight=torch.tensor(5.0)
    )
    total = sum(w[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}


def lr_at(it: int, n: int, base: float) -> float:
    """Learning rate at iteration it of n: linear warm-up, then cosine decay."""
    warm = min(100, n // 10)
    if it < warm:
        return base * (it + 1) / warm
    return base * 0.5 * (1 + math.cos(math.pi * (it - warm) / max(1, n - warm)))


class TrainStep(torch.nn.Module):
    """The loss of one batch as forward(), so DistributedDataParallel can average its gradients.

    stage 'model': model_loss(net, *args); stage 'traj': traj_loss(net, *args).
    """

    def __init__(self, net: RsdfmNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, stage: str, *args):
        return (model_loss if stage == 'model' else traj_loss)(self.net, *args)


def batch_group(seq: Sequence, default_grid) -> tuple:
    """Scenes of one batch share this: the number of drones and the grid they are fused on."""
    return (seq.images.shape[1], seq.grid or default_grid)


def _batches(seqs, cfg, rng, margin_frames, default_grid=None):
    """Random (sequence, frame) picks; frames keep room for the history lags.

    The scenes of a batch come from sequences of one batch_group (bags may differ in drones
    and region).
    """
    groups: dict[tuple, list[int]] = {}
    for i, s in enumerate(seqs):
        groups.setdefault(batch_group(s, default_grid), []).append(i)
    while True:
        first = rng.randrange(len(seqs))
        members = groups[batch_group(seqs[first], default_grid)]
        picks = []
        for k in range(cfg['scenes_per_batch']):
            si = first if k == 0 else rng.choice(members)
            picks.append((si, rng.randrange(min(margin_frames, seqs[si].length - 1),
                                            seqs[si].length)))
        yield picks


FREEZE = ('none', 'drone')


def train(
    config: dict,
    out: str | Path,
    resume: bool = False,
    threads: int = 1,
    log_path: str | None = None,
    bags: list[Path] | None = None,
    val_bags: list[Path] | None = None,
    init: str | Path | None = None,
    freeze: str = 'none',
) -> dict:
    """Run both training stages.

    Writes `out` (weights + config) and `out`.resume.pt (optimizer state). Under torchrun every
    rank trains on its shard of the training sequences with gradients averaged over the ranks
    (training/distributed.py); rank 0 validates, logs and writes the checkpoints.
    bags: train on these labelled bags (training/bag_data.py) instead of simulator seeds, and
    validate on val_bags (no validation without them). init: start from this checkpoint's
    weights and model config ('' = the shipped model). freeze 'drone': the drone side (image
    encoder and codec) keeps its weights, so drones need no new software.
    """
    torch.set_num_threads(threads)
    rank, world = distributed.setup()
    main = rank == 0
    if freeze not in FREEZE:
        raise ValueError(f'freeze must be one of {FREEZE}, got {freeze!r}')
    start_weights = None
    if init is not None:
        start, start_cfg, _ = load_checkpoint(init or None)
        start_weights = start.state_dict()
        config = {**config, 'model': start_cfg['model']}   # the architecture of the weights
    cfg = {**TRAIN_DEFAULTS, **config.get('train', {})}
    cfg['weights'] = {**TRAIN_DEFAULTS['weights'], **config.get('train', {}).get('weights', {})}
    if cfg['height_source'] not in HEIGHT_SOURCES:
        raise ValueError(f'train.height_source must be one of {HEIGHT_SOURCES}, got '
                         f'{cfg["height_source"]!r}')
    config = {**config, 'train': cfg}
    mcfg = config['model']
    out = Path(out)
    state_path = out.with_name(out.name + '.resume.pt')
    log_file = open(log_path, 'a') if log_path and main else None
    rng = random.Random(cfg['seed'] + rank)             # each rank draws its own batches
    torch.manual_seed(cfg['seed'])

    def specs(seeds):
        return [
            SequenceSpec(
                s,
                cfg['frames_per_sequence'],
                cfg['drones'],
                tuple(cfg['altitude']),
                tuple(cfg['pitch']),
                cfg['height_source'],
            )
            for s in seeds
        ]

    who = f'rank {rank} of {world}: ' if world > 1 else ''
    if bags:
        mine = distributed.shard(list(bags), rank, world)
        log(f'train: {who}caching {len(mine)} training + {len(val_bags or []) if main else 0} '
            f'validation bags in {cfg["cache_dir"]} (height targets from the boxes)', log_file)
        train_paths = bag_cache(cfg['cache_dir'], mine, mcfg)
        val_paths = bag_cache(cfg['cache_dir'], list(val_bags), mcfg) if main and val_bags \
            else []
        if main and not val_bags:
            log('train: no --val-bags: no validation loss', log_file)
    else:
        train_seeds = distributed.shard(cfg['train_seeds'], rank, world)
        log(
            f'train: {who}caching '
            f'{len(train_seeds)} training + {len(cfg["val_seeds"]) if main else 0} validation '
            f'sequences of {cfg["frames_per_sequence"]} frames in {cfg["cache_dir"]}',
            log_file,
        )
        train_paths = build_cache(cfg['cache_dir'], specs(train_seeds), mcfg)
        val_paths = build_cache(cfg['cache_dir'], specs(cfg['val_seeds']), mcfg) if main else []
    seqs = [Sequence(p) for p in train_paths]
    vals = [Sequence(p) for p in val_paths]
    grid = region_grid(mcfg)
    net = build_model(config, seed=cfg['seed'])
    if start_weights is not None:
        net.load_state_dict(start_weights)
        log(f'train: starting from {init or "the shipped model"} (model_id {model_id(net)})',
            log_file)
    net.frozen = ('encoder', 'codec') if freeze == 'drone' else ()
    frozen = tuple(f'{name}.' for name in net.frozen)
    for name, p in net.named_parameters():
        p.requires_grad_(not name.startswith(frozen))
    if frozen:
        log('train: drone side (encoder, codec) frozen', log_file)
    step = distributed.wrap(TrainStep(net), world)      # same start: DDP broadcasts rank 0's
    params_main = [p for n, p in net.named_parameters()
                   if not n.startswith(('traj_head', *frozen))]
    opt = torch.optim.AdamW(params_main, lr=cfg['lr'], weight_decay=cfg['weight_decay'])
    opt_traj = torch.optim.AdamW(
        net.traj_head.parameters(), lr=cfg['lr'], weight_decay=cfg['weight_decay']
    )
    it0, history = 0, []
    # rank 0's resume state for every rank: another machine may not see the file rank 0 wrote
    st = (torch.load(state_path, map_location='cpu', weights_only=False)
          if resume and main and state_path.exists() else None)
    st = distributed.from_rank0(st, world) if resume else None
    if st is not None:
        net.load_state_dict(st['state_dict'])
        opt.load_state_dict(st['opt'])
        opt_traj.load_state_dict(st['opt_traj'])
        it0, history = st['iteration'], st['history']
        states = st.get('rng_ranks') or [st['rng']]
        if len(states) == world:
            rng.setstate(states[rank])
        log(f'train: resumed at iteration {it0}', log_file)
    total_its = cfg['iterations'] + cfg['traj_iterations']
    margin = max([max(s.lag_frames(mcfg['history_lags_s']) + [0]) for s in seqs])
    batches = _batches(seqs, cfg, rng, margin, grid)
    t_start, it_start = time.time(), it0
    feat_cache: dict = {}

    def save(it):
        rngs = distributed.gather(rng.getstate(), world)    # every rank takes part
        histories = distributed.gather(history, world)
        if not main:
            return
        extra = {'iterations': it, 'history': history[-50:], 'train_seeds': cfg['train_seeds'],
                 'val_seeds': cfg['val_seeds']}
        save_checkpoint(out, net, config, extra)
        torch.save(
            {
                'state_dict': net.state_dict(),
                'opt': opt.state_dict(),
                'opt_traj': opt_traj.state_dict(),
                'iteration': it,
                'history': history,
                'rng': rng.getstate(),
                'rng_ranks': rngs,
                'history_ranks': histories,          # each rank's own losses
            },
            state_path,
        )

    def validate():
        net.eval()
        vrng = random.Random(1234)
        losses = []
        with torch.no_grad():
            for i in range(cfg['val_scenes']):
                s = vals[i % len(vals)]
                picks = [(i % len(vals), vrng.randrange(min(margin, s.length - 1), s.length))]
                b = collate(vals, picks, s.grid or grid, mcfg, 'cpu')
                total, _ = model_loss(
                    net,
                    b,
                    cfg,
                    vrng,
                    train=False,
                    budget=(mcfg['codec']['topk'], mcfg['codec']['bits']),
                )
                losses.append(float(total))
        net.train()
        return float(np.mean(losses))

    net.train()
    for it in range(it0, total_its):
        stage = 'model' if it < cfg['iterations'] else 'traj'
        picks = next(batches)
        if stage == 'model':
            for g in opt.param_groups:
                g['lr'] = lr_at(it, cfg['iterations'], cfg['lr'])
            b = collate(seqs, picks, seqs[picks[0][0]].grid or grid, mcfg, 'cpu', cfg, rng)
            loss, parts = step('model', b, cfg, rng)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params_main, 10.0)
            opt.step()
        else:
            k = it - cfg['iterations']
            for g in opt_traj.param_groups:
                g['lr'] = lr_at(k, cfg['traj_iterations'], cfg['lr'])
            loss, parts = step('traj', seqs, picks, seqs[picks[0][0]].grid or grid, mcfg,
                               feat_cache)
            opt_traj.zero_grad(set_to_none=True)
            loss.backward()
            opt_traj.step()
        history.append({'it': it + 1, 'loss': loss.item(), **parts})
        if main and ((it + 1) % cfg['log_every'] == 0 or it + 1 == total_its):
            rate = (time.time() - t_start) / (it + 1 - it_start)
            recent = np.mean([h['loss'] for h in history[-cfg['log_every']:]])
            window = history[-cfg['log_every']:]       # may span both stages: each part's
            detail = ' '.join(                          # mean over the iterations that have it
                f'{k}={np.mean([h[k] for h in window if k in h]):.3f}' for k in parts
            )
            log(
                f'train[{stage}] it {it + 1}/{total_its} loss {recent:.4f} ({detail}) '
                f'{rate:.2f} s/it '
                f'ETA {rate * (total_its - it - 1) / 60:.1f} min',
                log_file,
            )
        if (
            (it + 1) % cfg['checkpoint_every'] == 0
            or it + 1 == cfg['iterations']
            or it + 1 == total_its
        ):
            if stage == 'model' and main and vals:
                vl = validate()
                history[-1]['val_loss'] = vl
                log(f'train: validation loss {vl:.4f} at iteration {it + 1}', log_file)
            save(it + 1)
    distributed.broadcast_buffers(net, world)
    save(total_its)
    ids = distributed.gather(model_id(net), world)
    if world > 1:
        log(f'train: rank {rank} of {world}: model_id {ids[rank]}')
    if main:
        ranks = ''
        if world > 1:
            ranks = ', the same on every rank' if len(set(ids)) == 1 else f', ranks differ: {ids}'
        log(f'train: done, {total_its} iterations, weights {out} (model_id {ids[0]}{ranks}), '
            f'{(time.time() - t_start) / 60:.1f} min this run', log_file)
    distributed.finish(world)
    return {'iterations': total_its, 'history': history, 'rank': rank, 'world': world,
            'model_ids': ids}


def fused_features(net: RsdfmNet, seq: Sequence, t: int, grid) -> torch.Tensor:
    """Return the (Cf, R, W) fused map of frame t of a cached sequence.

    All drones, default budget, no grad.
    """
    with torch.no_grad():
        net.eval()
        img = torch.from_numpy(seq.images[t]).permute(0, 3, 1, 2).float() / 255.0
        x, valid, _ = net.drone_bev(
            img, torch.from_numpy(seq.K[t]), torch.from_numpy(seq.poses[t]), grid
        )
        cc = net.cfg['codec']
        x, _ = net.codec(x, valid, cc['topk'], cc['bits'])
        f = net.fuse(x[None], valid[None])[0]
        net.train()
        return f.half()


def traj_loss(net: RsdfmNet, seqs: list[Sequence], picks, grid, mcfg, cache: dict):
    """Return the L1 loss of the trajectory head's future offsets at object centres.

    The backbone is frozen and its maps cached. The history maps are the frames the history
    lags away at each sequence's own frame rate (10 Hz simulated, 2 Hz nuScenes key frames).
    """
    stacks, tgs = [], []
    for si, t in picks:
        t = t - t % 2                                  # reuse cached maps across iterations
        maps = []
        for tt in [t] + [t - lag for lag in seqs[si].lag_frames(mcfg['history_lags_s'])]:
            key = (si, max(tt, 0))
            if key not in cache:
                cache[key] = fused_features(net, seqs[si], max(tt, 0), grid)
            maps.append(cache[key].float())
        stacks.append(torch.cat(maps, 0))
        tgs.append(seqs[si].targets(t, grid, mcfg['future_steps'], mcfg['future_dt']))
    pred = net.traj_head(torch.stack(stacks))
    index = torch.from_numpy(np.stack([g['index'] for g in tgs]))
    count = torch.from_numpy(np.stack([g['count'] for g in tgs]))
    target = torch.from_numpy(np.stack([g['traj'] for g in tgs])) / TRAJ_SCALE
    mask = torch.from_numpy(np.stack([g['traj_mask'] for g in tgs]))
    mask = mask * (torch.arange(index.shape[1])[None] < count[:, None]).float()[..., None]
    p = gather_at(pred, index)
    loss = masked_l1(p, target, mask)
    return loss, {'traj': loss.item()}
