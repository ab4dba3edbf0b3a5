"""The evaluator against a hand-written pass over the data: view averaging, batching, read-time skips, frame-wise
accuracy over temporal windows (hand-built and on a real PyAV-encoded video)."""
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from ar_core.data import render_motion_frames
from ar_core.data.datasets import VideoFolderDataset
from ar_core.eval.evaluator import evaluate, predict_dataset, predict_windows

from data_helpers import encode_video

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


class FrameLabelledViews(Views):
    """Views whose videos have 8 frames, windows centred at 1.5 and 5.5, and per-frame labels that change halfway."""

    def window_centres(self, index):
        return 8, np.array([1.5, 5.5])

    def frame_labels(self, index):
        return np.array([index % 3] * 4 + [(index + 1) % 3] * 4)


def test_frame_accuracy_labels_frames_by_the_nearest_window():
    data = FrameLabelledViews()
    metrics = evaluate(score, data, CLASSES, batch_size=6, device=torch.device("cpu"))
    correct = 0
    for index in range(len(data)):
        windows = score(data[index][0]).view(2, 3, -1).mean(dim=1).argmax(dim=1)  # each window over its 3 crops
        predicted = [int(windows[0])] * 4 + [int(windows[1])] * 4  # frames 0-3 nearest 1.5, 4-7 nearest 5.5
        correct += sum(p == t for p, t in zip(predicted, data.frame_labels(index)))
    assert metrics["frame_accuracy"] == pytest.approx(correct / (8 * len(data)))
    assert metrics["protocol"] == "2x3-view"
    assert 0 < correct < 8 * len(data)  # the example distinguishes right from wrong frames


def test_window_centres_of_a_real_video_drive_frame_accuracy(tmp_path):
    # 24 frames at 15 fps, 4-frame clips every 12th frame at 30 fps = every 6th here: two windows, frames
    # 0,6,12,18 and 5,11,17,23, centred at 9 and 14.
    for label, folder in enumerate(("left", "right")):
        encode_video(tmp_path / folder / "0.mp4", render_motion_frames(label, 24, 32, 15, seed=label), 15)
    data = VideoFolderDataset(tmp_path, mode="test", frames=4, sampling_rate=12, crop=32, num_clips=2,
                              num_crops=1)
    num_frames, centres = data.window_centres(0)
    assert num_frames == 24 and centres.tolist() == [9.0, 14.0]

    def first_half_left(clips):  # window 0 says class 0, window 1 class 1, whatever the video
        first = torch.arange(len(clips)) % 2 == 0
        return torch.stack([first.float(), (~first).float()], dim=1)

    metrics = evaluate(first_half_left, data, data.classes, batch_size=4, device=torch.device("cpu"))
    # Frames 0-11 are nearest centre 9 (class 0), 12-23 nearest 14 (class 1): half of each video is right.
    assert metrics["frame_accuracy"] == pytest.approx(0.5)
    assert metrics["protocol"] == "2x1-view"
    indices, windows, labels, _ = predict_windows(first_half_left, data, 4, torch.device("cpu"))
    assert indices == [0, 1] and windows.shape == (2, 2, 2) and labels.tolist() == [0, 1]
