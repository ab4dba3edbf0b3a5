"""Metrics on hand-built predictions whose answers are worked out by hand, and the reports written from them."""
import json
import math

import numpy as np
import pytest
import torch

from ar_core.eval import (VideoWindows, classification_metrics, frame_accuracy, frame_predictions,
                          plot_confusion_matrix, view_protocol, write_metrics)
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
    assert metrics["top3"] == 1.0 and metrics["top5"] == 1.0  # k is capped at 3 classes
    assert metrics["frame_accuracy"] is None  # no windows given
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


def test_top3_counts_the_third_most_probable_class():
    probs = _probs([[0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4]])
    labels = torch.tensor([2, 3, 0])  # third, fourth, fourth most probable
    metrics = classification_metrics(probs, labels, ["a", "b", "c", "d"])
    assert metrics["top1"] == 0.0 and metrics["top3"] == pytest.approx(1 / 3) and metrics["top5"] == 1.0


# Video A: 10 frames, windows centred at frames 2 and 7 predict classes 0 and 1. Frames 0-4 are nearest the
# first centre, 5-9 the second; its per-frame truth is 0,0,0,0,0,1,1,1,0,0: frames 8 and 9 are wrong (8/10).
# Video B: 4 frames, one window predicting 2, every frame labelled 2 (4/4). Frame-wise: 12 of 14 frames.
VIDEO_A = VideoWindows(np.array([0, 1]), np.array([2.0, 7.0]), np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0]))
VIDEO_B = VideoWindows(np.array([2]), np.array([1.5]), np.array([2, 2, 2, 2]))


def test_frames_take_the_nearest_window_and_accuracy_counts_frames():
    assert frame_predictions(VIDEO_A).tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert frame_accuracy([VIDEO_A, VIDEO_B]) == pytest.approx(12 / 14)
    tie = VideoWindows(np.array([0, 1]), np.array([1.0, 3.0]), np.zeros(5, dtype=int))
    assert frame_predictions(tie).tolist() == [0, 0, 0, 1, 1]  # frame 2 is as near both: the earlier window
    unlabelled = VideoWindows(np.array([0]), np.array([1.0]), np.array([-1, 0, 1]))  # frame 0 has no label
    assert frame_accuracy([unlabelled]) == 0.5 and math.isnan(frame_accuracy([VideoWindows(
        np.array([0]), np.array([0.0]), np.array([-1]))]))
    # Video-wise, A (scored 1, label 1) and B (scored 2, label 2) are both right: frame-wise differs.
    metrics = classification_metrics(_probs([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]), torch.tensor([1, 2]), CLASSES,
                                     [VIDEO_A, VIDEO_B])
    assert metrics["top1"] == 1.0 and metrics["frame_accuracy"] == pytest.approx(12 / 14)


def test_windows_must_match_rows_and_centres():
    with pytest.raises(ValueError, match="one VideoWindows per row"):
        classification_metrics(PROBS, LABELS, CLASSES, [VIDEO_A])
    with pytest.raises(ValueError, match="one centre per window"):
        VideoWindows(np.array([0, 1]), np.array([2.0]), np.zeros(3, dtype=int))


@pytest.mark.parametrize("clips, crops, name", [(1, 1, "single-view"), (10, 3, "30-view"), (10, 1, "10x1-view"),
                                                (2, 3, "2x3-view")])
def test_view_protocol_names(clips, crops, name):
    assert view_protocol(clips, crops) == name
