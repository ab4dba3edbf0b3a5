"""Batches whose order is a function of (seed, epoch) alone, so a resumed run sees the same batches.

Each process of a torchrun job reads its own shard (DistributedSampler). Samples a dataset skips at read
time (corrupt videos, in whatever worker process) travel back with the batch, so they can be reported.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from .distributed import DistributedContext

Skipped = list[tuple[str, str]]


def epoch_batches(num_samples: int, batch_size: int, epoch: int, seed: int, ctx: DistributedContext,
                  shuffle: bool = True, drop_last: bool = True) -> list[list[int]]:
    """This process's batches of sample indices for `epoch`."""
    sampler = DistributedSampler(range(num_samples), num_replicas=ctx.world_size, rank=ctx.rank,
                                 shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    indices = list(sampler)
    batches = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


class SkipReporting(Dataset):
    """Wraps a dataset that lists unreadable samples in `.skipped`; each item carries the entries it added."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any, Skipped]:
        skipped = getattr(self.dataset, "skipped", None)
        before = len(skipped) if skipped is not None else 0
        clip, label = self.dataset[index]
        return clip, label, list(skipped[before:]) if skipped is not None else []


def collate(items: list[tuple[Any, Any, Skipped]]) -> tuple[torch.Tensor, torch.Tensor, Skipped]:
    clips, labels = default_collate([(clip, label) for clip, label, _ in items])
    return clips, labels, [entry for _, _, skipped in items for entry in skipped]


def make_loader(dataset: Dataset, batches: list[list[int]], seed: int, num_workers: int,
                pin_memory: bool) -> DataLoader:
    """A loader over fixed `batches`; worker seeds come from `seed`, never from the global RNG, so that
    creating it does not disturb the RNG state a resumed run restored."""
    return DataLoader(SkipReporting(dataset), batch_sampler=batches, num_workers=num_workers,
                      pin_memory=pin_memory, collate_fn=collate,
                      generator=torch.Generator().manual_seed(seed))


def construction_skips(dataset: Dataset) -> Skipped:
    """What the dataset already skipped while it was built (probing every video)."""
    return list(getattr(dataset, "skipped", []))
