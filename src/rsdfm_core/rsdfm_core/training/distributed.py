"""Data-parallel training under torchrun: process group, shards, gradients in step.

`torchrun --nproc_per_node N -m rsdfm_core.cli train ...` (or `torchrun ... $(which rsdfm)
train ...`) starts N ranks; each trains on its own shard of the simulated sequences and
DistributedDataParallel averages the gradients, so every rank holds the same weights after every
step. The backend follows the device the loop trains on: gloo, since this loop trains on the CPU
even where CUDA is available (nccl would need the tensors on the GPU). Without torchrun's
variables nothing changes: one process, rank 0 of 1.
"""
from __future__ import annotations

import os
from typing import Sequence, TypeVar

import torch
import torch.distributed as dist

T = TypeVar('T')


def backend(device: torch.device) -> str:
    """Return the process group backend for tensors on device: nccl for CUDA, else gloo."""
    return 'nccl' if device.type == 'cuda' else 'gloo'


def setup(device: torch.device = torch.device('cpu')) -> tuple[int, int]:
    """Join torchrun's process group if started by it; return (rank, world size)."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend(device))
    return dist.get_rank(), dist.get_world_size()


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Return this rank's share of items (round robin); every rank gets at least one."""
    if world > len(items):
        raise ValueError(f'{world} ranks need at least {world} training sequences, got '
                         f'{len(items)}')
    return list(items[rank::world])


def gather(value, world: int) -> list:
    """Return every rank's value (a picklable object), in rank order."""
    if world == 1:
        return [value]
    out = [None] * world
    dist.all_gather_object(out, value)
    return out


def from_rank0(value, world: int):
    """Return rank 0's value (a picklable object) on every rank.

    The resume state is read where rank 0 wrote it; ranks on other machines may not see that
    file, and must still start from the same iteration, weights and optimiser state.
    """
    if world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, 0)
    return box[0]


def wrap(module: torch.nn.Module, world: int) -> torch.nn.Module:
    """Wrap for data parallelism (gradients averaged over ranks in backward) when world > 1.

    The two training stages use different parameters, hence find_unused_parameters.
    """
    if world == 1:
        return module
    return torch.nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)


def broadcast_buffers(module: torch.nn.Module, world: int) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics).

    DDP does so at the start of every forward; after the last step each rank still holds the
    statistics of its own last batch.
    """
    if world > 1:
        for buffer in module.buffers():
            dist.broadcast(buffer, 0)


def finish(world: int) -> None:
    """Wait for every rank, then leave the process group."""
    if world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
