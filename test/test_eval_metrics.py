"""Metrics on hand-built predictions whose answers are worked out by hand, and the reports written from them."""
import json
import math

import pytest
import torch

from ar_core.eval import classification_metrics, plot_confusion_matrix, write_metrics
from ar_core.eval.metrics import confusion_matrix, nll, topk_accuracy

CLASSES = ["wave", "clap", "jump"]


def _probs(rows):
    return torch.tensor(rows, dtype=torch.float64)


# True labels 0,0,0,1,1,2 (class "jump" has one sample); predictions chosen to make a known confusion:
#   wave -> wave, wave, clap   (2/3)
#   clap -> clap, jump         (1/2)
#   jump -> jump               (1/1)
PROBS = _probs([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.3, 0.6, 0.1],
                [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.25, 0.25, 0.5]])
LABELS = torch.tensor([0, 0, 0, 1, 1, 2])


def test_known_confusion():
    expected = [[2, 1, 0],
                [0, 1, 1],
                [0, 0, 1]]
    assert confusion_matrix(PROBS.argmax(1), LABELS, 3).tolist() == expected


def test_summary_numbers():
    metrics = classification_metrics(PROBS, LABELS, CLASSES)
    assert metrics["samples"] == 6
    assert metrics["top1"] == pytest.approx(4 / 6)
    assert metrics["top5"] == 1.0  # k is capped at 3 classes
    assert metrics["per_class_accuracy"] == pytest.approx({"wave": 2 / 3, "clap": 1 / 2, "jump": 1.0})
    assert metrics["mean_class_accuracy"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    true_probs = [0.7, 0.5, 0.3, 0.8, 0.3, 0.5]
    assert metrics["loss"] == pytest.approx(-sum(math.log(p) for p in true_probs) / 6)


def test_top2_and_absent_class():
    # Row 2's label (1) is second most probable: top-2 counts it, top-1 does not.
    probs = _probs([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    labels = torch.tensor([0, 1])
    assert topk_accuracy(probs, labels, 1) == 0.5
    assert topk_accuracy(probs, labels, 2) == 1.0
    metrics = classification_metrics(probs, labels, CLASSES)
    assert metrics["per_class_accuracy"]["jump"] is None  # no sample of class 2


def test_certain_and_wrong_is_finite():
    assert math.isfinite(nll(_probs([[1.0, 0.0]]), torch.tensor([1])))


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"expected probabilities \(N, 3\) for 6 labels, got \(6, 2\)"):
        classification_metrics(PROBS[:, :2], LABELS, CLASSES)


def test_reports_on_disk(tmp_path):
    metrics = classification_metrics(PROBS, LABELS, CLASSES)
    metrics["unknown"] = float("nan")
    path = write_metrics(metrics, tmp_path / "out" / "metrics.json")
    loaded = json.loads(path.read_text())
    assert loaded["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert loaded["unknown"] is None
    png = plot_confusion_matrix(metrics["confusion"], CLASSES, tmp_path / "confusion.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.png", "out"]  # no temp files left
