"""Run a model over a data set and score it. Test-mode items hold several views of a video (V, 3, T, S, S):
num_clips temporal windows x num_crops crops, window-major. A video's probabilities are the average of all its
views, as in the 30-view protocol of the X3D paper; frame-wise accuracy uses each window's average over its crops."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..train.distributed import DistributedContext, all_gather
from ..train.loader import Skipped, construction_skips, make_loader
from .metrics import VideoWindows, classification_metrics, view_protocol

Predict = Callable[[torch.Tensor], "torch.Tensor | np.ndarray"]


@torch.no_grad()
def predict_windows(predict: Predict, dataset: Dataset, batch_size: int, device: torch.device,
                    ctx: DistributedContext = DistributedContext(), max_batches: int | None = None,
                    num_workers: int = 0, pin_memory: bool = False
                    ) -> tuple[list[int], torch.Tensor, torch.Tensor, Skipped]:
    """(item indices scored, probabilities (N, windows, classes) of each temporal window averaged over its crops,
    labels (N,), samples skipped while reading), in dataset order.

    `batch_size` counts clips: items with V views are batched batch_size // V at a time. Under torchrun
    each process scores every world_size-th item and the results are gathered. `max_batches` limits the
    batches each process scores.
    """
    indices = list(range(ctx.rank, len(dataset), ctx.world_size))
    per_batch = max(1, batch_size // views_per_item(dataset))  # batch_size counts clips, as SlowFast's does
    batches = [indices[i:i + per_batch] for i in range(0, len(indices), per_batch)][:max_batches]
    loader = make_loader(dataset, batches, seed=0, num_workers=num_workers, pin_memory=pin_memory)
    probs, labels, skipped = [], [], []
    for clips, batch_labels, batch_skipped in loader:
        views = clips.shape[1] if clips.ndim == 6 else 1
        windows = getattr(dataset, "num_clips", 1)
        windows = windows if views % windows == 0 else 1
        flat = clips.reshape(-1, *clips.shape[-4:]).to(device, non_blocking=True)
        out = torch.as_tensor(predict(flat)).float().cpu()
        probs.append(out.view(len(batch_labels), windows, views // windows, -1).mean(dim=2))
        labels.append(batch_labels)
        skipped += batch_skipped
    seen = [i for batch in batches for i in batch]
    shard = (seen, torch.cat(probs) if probs else None, torch.cat(labels) if labels else None, skipped)
    return _merge(all_gather(shard, ctx))


def predict_dataset(predict: Predict, dataset: Dataset, batch_size: int, device: torch.device,
                    ctx: DistributedContext = DistributedContext(), max_batches: int | None = None,
                    num_workers: int = 0, pin_memory: bool = False) -> tuple[torch.Tensor, torch.Tensor, Skipped]:
    """(probabilities (N, classes) of each video, all its views averaged, labels (N,), samples skipped while
    reading), in dataset order; the arguments are predict_windows'."""
    _, probs, labels, skipped = predict_windows(predict, dataset, batch_size, device, ctx, max_batches,
                                                num_workers, pin_memory)
    return probs.mean(dim=1), labels, skipped


def views_per_item(dataset: Dataset) -> int:
    """Clips per item: test-mode ClipDatasets return num_clips x num_crops views of each video."""
    return getattr(dataset, "num_clips", 1) * getattr(dataset, "num_crops", 1)


def video_windows(dataset: Dataset, index: int, window_probs: torch.Tensor, label: int) -> VideoWindows:
    """Item `index` for frame-wise accuracy. Its frames and window centres come from the data set's
    `window_centres` (ClipDataset); an item without them (SyntheticMotion) is one clip, its windows spread evenly
    over it. The truth of each frame is the data set's `frame_labels(index)` where it has per-frame labels, else
    the item's label."""
    truth = getattr(dataset, "frame_labels", None)
    truth = truth(index) if callable(truth) else None
    windows = window_probs.shape[0]
    if hasattr(dataset, "window_centres"):
        num_frames, centres = dataset.window_centres(index)
    else:
        num_frames = len(truth) if truth is not None else getattr(dataset, "frames", windows)
        centres = (np.arange(windows) + 0.5) * num_frames / windows - 0.5
    if truth is None:
        truth = np.full(num_frames, label, dtype=np.int64)
    elif len(truth) != num_frames:
        raise ValueError(f"item {index}: {len(truth)} frame labels for a video of {num_frames} frames")
    return VideoWindows(window_probs.argmax(dim=1).numpy(), np.asarray(centres), np.asarray(truth))


def _merge(shards: list) -> tuple[list[int], torch.Tensor, torch.Tensor, Skipped]:
    order = [i for seen, *_ in shards for i in seen]
    if not order:
        raise ValueError("no samples to evaluate: the data set is empty")
    probs = torch.cat([p for _, p, _, _ in shards if p is not None])
    labels = torch.cat([l for _, _, l, _ in shards if l is not None])
    rank_of = torch.as_tensor(order).argsort()
    return (sorted(order), probs[rank_of], labels[rank_of],
            [entry for *_, skipped in shards for entry in skipped])


def evaluate(predict: Predict, dataset: Dataset, classes: list[str], batch_size: int, device: torch.device,
             ctx: DistributedContext = DistributedContext(), max_batches: int | None = None,
             num_workers: int = 0, pin_memory: bool = False) -> dict:
    """classification_metrics over the data set (top1 video-wise, frame_accuracy frame-wise), plus `protocol`
    (view_protocol of its clips x crops) and `skipped`: [path, reason] of every unreadable video."""
    built_skips = construction_skips(dataset)
    indices, window_probs, labels, read_skips = predict_windows(predict, dataset, batch_size, device, ctx,
                                                                max_batches, num_workers, pin_memory)
    videos = [video_windows(dataset, index, probs, int(label))
              for index, probs, label in zip(indices, window_probs, labels)]
    metrics = classification_metrics(window_probs.mean(dim=1), labels, classes, videos)
    metrics["protocol"] = view_protocol(getattr(dataset, "num_clips", 1), getattr(dataset, "num_crops", 1))
    metrics["skipped"] = [list(entry) for entry in built_skips + read_skips]
    return metrics
