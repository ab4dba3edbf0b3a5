"""Classification metrics over class probabilities: top-k, confusion, per-class accuracy, NLL."""
from __future__ import annotations

from collections.abc import Sequence

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


def classification_metrics(probs: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> dict:
    """Everything `eval` reports, as JSON-ready plain types; `confusion` is a nested list."""
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0] or probs.shape[1] != len(classes):
        raise ValueError(f"expected probabilities (N, {len(classes)}) for {labels.shape[0]} labels, "
                         f"got {tuple(probs.shape)}")
    if probs.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    probs = probs.double()
    confusion = confusion_matrix(probs.argmax(dim=1), labels, len(classes))
    per_class = per_class_accuracy(confusion)
    seen = [acc for acc in per_class if acc is not None]
    return {
        "samples": int(labels.shape[0]),
        "loss": nll(probs, labels),
        "top1": topk_accuracy(probs, labels, 1),
        "top5": topk_accuracy(probs, labels, 5),
        "mean_class_accuracy": sum(seen) / len(seen),
        "per_class_accuracy": dict(zip(classes, per_class)),
        "confusion": confusion.tolist(),
        "classes": list(classes),
    }
