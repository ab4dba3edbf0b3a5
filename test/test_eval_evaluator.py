"""The evaluator against a hand-written pass over the data: view averaging, batching, read-time skips."""
import pytest
import torch
from torch.utils.data import Dataset

from ar_core.eval.evaluator import evaluate, predict_dataset

CLASSES = ["a", "b", "c"]


class Views(Dataset):
    """Test-mode items: (views (V, 3, T, S, S), label); item 4 is "unreadable" and notes it in `skipped`,
    as ClipDataset does, before serving the next item instead."""

    classes = CLASSES

    def __init__(self, count=7, num_clips=2, num_crops=3):
        self.count, self.num_clips, self.num_crops = count, num_clips, num_crops
        self.skipped = [("built-broken.mp4", "cannot open")]

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if index == 4:
            self.skipped.append(("vanished.mp4", "file not found"))
            index = 5
        views = torch.randn(self.num_clips * self.num_crops, 3, 2, 4, 4, generator=torch.Generator().manual_seed(index))
        return views, index % len(CLASSES)


def score(clips):
    """A fixed 'model': class probabilities from the per-channel means of each clip."""
    assert clips.ndim == 5
    return clips.mean(dim=(2, 3, 4)).mul(3).softmax(dim=1)


def test_views_are_averaged_per_item():
    data = Views()
    probs, labels, skipped = predict_dataset(score, data, batch_size=12, device=torch.device("cpu"))
    expected = torch.stack([score(data[i][0]).mean(dim=0) for i in range(len(data))])
    assert torch.allclose(probs, expected, atol=1e-6)
    assert labels.tolist() == [data[i][1] for i in range(len(data))]
    assert skipped == [("vanished.mp4", "file not found")]


def test_batch_size_counts_clips_and_max_batches_limits():
    data = Views()  # 6 views per item: batch_size 12 -> 2 items a batch
    probs, labels, _ = predict_dataset(score, data, batch_size=12, device=torch.device("cpu"), max_batches=2)
    assert len(labels) == 4
    seen = []
    predict_dataset(lambda clips: seen.append(len(clips)) or score(clips), data, 12, torch.device("cpu"))
    assert seen == [12, 12, 12, 6]


def test_evaluate_reports_metrics_and_every_skip():
    metrics = evaluate(score, Views(), CLASSES, batch_size=6, device=torch.device("cpu"))
    assert metrics["samples"] == 7
    assert [tuple(entry) for entry in metrics["skipped"]] == [("built-broken.mp4", "cannot open"),
                                                             ("vanished.mp4", "file not found")]
    assert sum(map(sum, metrics["confusion"])) == 7


def test_empty_data_set_is_an_error():
    with pytest.raises(ValueError, match="no samples to evaluate"):
        evaluate(score, Views(count=0), CLASSES, batch_size=6, device=torch.device("cpu"))
