"""Classify a whole video: clips over sliding windows, each sampled as the model was trained to see them."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..models.metadata import ModelMetadata

Probabilities = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class WindowPrediction:
    start_s: float
    end_s: float
    top: list[tuple[str, float]]  # (class name, probability), most probable first


def window_indices(num_frames: int, fps: float, metadata: ModelMetadata, step_s: float) -> Iterator[list[int]]:
    """Frame indices of each window: `metadata.frames` frames spanning the clip's duration, a window every
    `step_s` seconds; a video shorter than one clip gives one window (its last frame repeats)."""
    from ..data.sampling import clip_indices, stride_for_fps

    if step_s <= 0:
        raise ValueError(f"window step must be positive, got {step_s} s")
    stride = stride_for_fps(metadata.sampling_rate, fps)
    last_start = max(num_frames - 1 - stride * (metadata.frames - 1), 0.0)
    for start in np.arange(0.0, last_start + 1e-6, step_s * fps):
        yield clip_indices(float(start), num_frames, metadata.frames, stride)


def predict_video(path: str | os.PathLike, probabilities: Probabilities, metadata: ModelMetadata,
                  step_s: float | None = None, top_k: int = 5, batch_size: int = 8) -> list[WindowPrediction]:
    """Top-k classes of every window of the video at `path` (step default: half a clip)."""
    from ..data.transforms import ClipTransform
    from ..data.video import probe, read_frames

    info = probe(path)
    spec_seconds = metadata.frames * metadata.sampling_rate / 30.0
    step_s = step_s or spec_seconds / 2
    transform = ClipTransform(False, metadata.crop, metadata.crop, metadata.mean, metadata.std)
    windows = list(window_indices(info.num_frames, info.fps, metadata, step_s))
    results = []
    for first in range(0, len(windows), batch_size):
        chunk = windows[first:first + batch_size]
        clips = torch.stack([transform(read_frames(path, indices, info)) for indices in chunk])
        probs = probabilities(clips)
        scores, classes = probs.topk(min(top_k, probs.shape[1]), dim=1)
        for indices, row_scores, row_classes in zip(chunk, scores, classes):
            start = indices[0] / info.fps
            top = [(metadata.classes[int(c)], float(p)) for c, p in zip(row_classes, row_scores)]
            results.append(WindowPrediction(start, start + spec_seconds, top))
    return results


def format_windows(predictions: list[WindowPrediction]) -> str:
    """A plain-text table: window start/end in seconds, then the top-k classes with their scores."""
    lines = [f"{'start s':>8} {'end s':>8}  top classes"]
    for window in predictions:
        ranked = "  ".join(f"{name} {score:.3f}" for name, score in window.top)
        lines.append(f"{window.start_s:8.2f} {window.end_s:8.2f}  {ranked}")
    return "\n".join(lines)
