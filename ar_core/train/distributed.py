"""Data-parallel training under `torchrun`: process group from the environment, DDP, per-rank data shards.

`torchrun --nproc_per_node=N -m ar_core.cli train ...` sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; without them everything runs as a single process.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, writes TensorBoard and saves checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str) -> tuple[DistributedContext, torch.device]:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA) and pick this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    target = torch.device(device)
    if world_size == 1:
        return DistributedContext(), target
    ctx = DistributedContext(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if target.type == "cuda":
        target = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(target)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if target.type == "cuda" else "gloo")
        log.info("rank %d of %d joined the process group on %s", ctx.rank, world_size, target)
    return ctx, target


def wrap_network(network: nn.Module, ctx: DistributedContext, device: torch.device) -> nn.Module:
    if not ctx.enabled:
        return network
    return DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap_network(network: nn.Module) -> nn.Module:
    return network.module if isinstance(network, DistributedDataParallel) else network


def all_gather(obj: Any, ctx: DistributedContext) -> list[Any]:
    """Every rank's `obj`, in rank order (just `[obj]` in a single process)."""
    if not ctx.enabled:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast(obj: Any, ctx: DistributedContext) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def sync_buffers(network: nn.Module, ctx: DistributedContext) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics). DDP does this before each training
    forward; evaluation in eval mode must do it itself, or each rank scores with its own statistics."""
    if ctx.enabled:
        for buffer in unwrap_network(network).buffers():
            dist.broadcast(buffer, src=0)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
