"""Classification metrics over class probabilities: video-wise top-k (1, 3, 5), frame-wise accuracy, confusion,
per-class and mean class accuracy, NLL: what SlowFast/MindSpore (top-1/5), OpenDR (top-3) and OTX (frame-wise
accuracy) report."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

PROBABILITY_FLOOR = 1e-12  # keeps -log(p) finite when a model is certain and wrong


def topk_accuracy(probs: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Fraction of rows whose label is among the k most probable classes (k capped at the class count)."""
    k = min(k, probs.shape[1])
    hits = (probs.topk(k, dim=1).indices == labels[:, None]).any(dim=1)
    return hits.float().mean().item()


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class."""
    flat = labels.long() * num_classes + preds.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(confusion: torch.Tensor) -> list[float | None]:
    """Recall of each class: correct / its samples; None for a class with no samples."""
    totals = confusion.sum(dim=1)
    return [None if total == 0 else (confusion[i, i] / total).item() for i, total in enumerate(totals.tolist())]


def nll(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean negative log-likelihood of the true classes under `probs`."""
    picked = probs.gather(1, labels.long()[:, None]).clamp_min(PROBABILITY_FLOOR)
    return -picked.log().mean().item()


def view_protocol(num_clips: int, num_crops: int) -> str:
    """The name of a test protocol: "single-view" (1 clip x 1 crop), "30-view" (10 x 3, the X3D paper's Kinetics
    figures), otherwise "<clips>x<crops>-view" (e.g. "10x1-view")."""
    if num_clips * num_crops == 1:
        return "single-view"
    if (num_clips, num_crops) == (10, 3):
        return "30-view"
    return f"{num_clips}x{num_crops}-view"


@dataclass(frozen=True)
class VideoWindows:
    """One video as frame-wise accuracy sees it: the predicted class of each temporal window (its crops averaged),
    each window's centre frame position, and the true class of every frame of the video (-1: unlabelled)."""

    predictions: np.ndarray  # (windows,) int
    centres: np.ndarray  # (windows,) frame positions, in the video's frames
    frame_labels: np.ndarray  # (frames,) int, -1 where a frame has no label (not scored)

    def __post_init__(self) -> None:
        if len(self.predictions) != len(self.centres) or not len(self.predictions):
            raise ValueError(f"expected one centre per window, got {len(self.predictions)} predictions and "
                             f"{len(self.centres)} centres")
        if not len(self.frame_labels):
            raise ValueError("a video needs at least one frame label")


def frame_predictions(video: VideoWindows) -> np.ndarray:
    """The class of every frame: that of the window whose centre frame is nearest (ties: the earlier window)."""
    frames = np.arange(len(video.frame_labels), dtype=np.float64)
    distance = np.abs(frames[:, None] - np.asarray(video.centres, dtype=np.float64)[None, :])
    return np.asarray(video.predictions)[distance.argmin(axis=1)]


def frame_accuracy(videos: Sequence[VideoWindows]) -> float:
    """Correctly labelled frames over all labelled frames of all videos (OTX's frame-wise accuracy): long videos
    weigh more than short ones, unlike video-wise top-1. Frames labelled -1 are left out; NaN when none is left."""
    correct = total = 0
    for video in videos:
        labelled = np.asarray(video.frame_labels) >= 0
        correct += int((frame_predictions(video) == video.frame_labels)[labelled].sum())
        total += int(labelled.sum())
    return correct / total if total else math.nan


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
                           videos: Sequence[VideoWindows] | None = None) -> dict:
    """Everything `eval` reports, as JSON-ready plain types; `confusion` is a nested list. `probs` are per video
    (its views averaged); `videos` (one per row) give `frame_accuracy`, None without them."""
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0] or probs.shape[1] != len(classes):
        raise ValueError(f"expected probabilities (N, {len(classes)}) for {labels.shape[0]} labels, "
                         f"got {tuple(probs.shape)}")
    if probs.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    if videos is not None and len(videos) != probs.shape[0]:
        raise ValueError(f"expected one VideoWindows per row of probabilities ({probs.shape[0]}), got {len(videos)}")
    probs = probs.double()
    confusion = confusion_matrix(probs.argmax(dim=1), labels, len(classes))
    per_class = per_class_accuracy(confusion)
    seen = [acc for acc in per_class if acc is not None]
    return {
        "samples": int(labels.shape[0]),
        "loss": nll(probs, labels),
        "top1": topk_accuracy(probs, labels, 1),
        "top3": topk_accuracy(probs, labels, 3),
        "top5": topk_accuracy(probs, labels, 5),
        "frame_accuracy": frame_accuracy(videos) if videos is not None else None,
        "mean_class_accuracy": sum(seen) / len(seen),
        "per_class_accuracy": dict(zip(classes, per_class)),
        "confusion": confusion.tolist(),
        "classes": list(classes),
    }
