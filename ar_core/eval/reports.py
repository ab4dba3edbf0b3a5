"""Evaluation reports on disk: the metrics as JSON and the confusion matrix as a PNG."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..atomic import atomic_path

MAX_LABELLED_CLASSES = 40  # beyond this, tick labels would overlap into a black bar


def write_metrics(metrics: dict, path: str | os.PathLike) -> Path:
    """Write `metrics` as indented JSON (NaN becomes null) and return the path."""
    path = Path(path)
    text = json.dumps(_json_safe(metrics), indent=2)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return path


def plot_confusion_matrix(confusion: Sequence[Sequence[int]], classes: Sequence[str],
                          path: str | os.PathLike) -> Path:
    """Save the row-normalised confusion matrix (true class down, prediction across) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib import pyplot as plt

    counts = np.asarray(confusion, dtype=np.float64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = min(4 + 0.35 * len(classes), 40)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, label="fraction of the true class")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if len(classes) <= MAX_LABELLED_CLASSES:
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=90)
        ax.set_yticks(ticks, classes)
        for (row, col), count in np.ndenumerate(counts):
            if count:
                ax.text(col, row, int(count), ha="center", va="center", fontsize=7,
                        color="white" if rates[row, col] > 0.5 else "black")
    return save_png(fig, path)


def save_png(fig, path: str | os.PathLike) -> Path:
    """Write a matplotlib figure as a PNG atomically and close it."""
    from matplotlib import pyplot as plt

    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path


def _json_safe(value):
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
