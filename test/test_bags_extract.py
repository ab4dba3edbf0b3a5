"""`ar-core bag-extract`: labelled segments become a class-folder mp4 dataset that VideoFolderDataset reads."""
from collections import Counter

import numpy as np
import pytest

from ar_core.bags.extract import extract_segments, frame_rate
from ar_core.bags.reader import BagReadError
from ar_core.bags.truth import Segment, TruthError, read_truth
from ar_core.cli import main
from ar_core.data.datasets import VideoFolderDataset
from ar_core.data.video import probe, read_frames

from bag_helpers import CLASSES, FPS, TOPIC, cut, make_labelled_bag, write_truth


def frames_in(bag, start: float, end: float) -> list[int]:
    """Indices of the frames whose bag time falls in [start, end)."""
    return [i for i, stamp in enumerate(bag.stamps) if start <= bag.time_s(stamp) < end]


@pytest.mark.parametrize("storage, compressed", [("sqlite3", False), ("mcap", True)])
def test_segments_become_a_dataset_with_the_right_classes_and_clips(tmp_path, storage, compressed):
    first = make_labelled_bag(tmp_path, [0, 1, 0], storage=storage, compressed=compressed, name="lab_a")
    second = make_labelled_bag(tmp_path, [2], storage=storage, compressed=compressed, name="lab_b")
    out = tmp_path / "dataset"
    for bag in (first, second):
        assert main(["bag-extract", "--bag", str(bag.path), "--topic", TOPIC, "--truth", str(bag.truth),
                     "--out", str(out)]) == 0

    dataset = VideoFolderDataset(out, frames=4, sampling_rate=12, crop=64, mode="val")
    assert dataset.classes == sorted(CLASSES[i] for i in (0, 1, 2))
    clips_per_class = Counter(dataset.classes[label] for _, label, _ in dataset.samples)
    assert clips_per_class == {CLASSES[0]: 2, CLASSES[1]: 1, CLASSES[2]: 1} and dataset.skipped == []
    clip, label = dataset[0]
    assert clip.shape == (3, 4, 64, 64) and dataset.classes[label] == "move left"
    assert sorted(p.name for p in (out / CLASSES[0]).iterdir()) == ["lab_a_0.mp4", "lab_a_2.mp4"]

    start, end, _ = first.segments[2]
    video = out / CLASSES[0] / "lab_a_2.mp4"
    info = probe(video)
    wanted = frames_in(first, start, end)
    assert info.fps == pytest.approx(FPS) and info.num_frames == len(wanted)
    decoded = read_frames(video, [0, len(wanted) - 1], info).astype(int)
    for got, index in zip(decoded, (wanted[0], wanted[-1])):  # h264 (and jpeg) are lossy, but close
        assert np.abs(got - first.frames[index]).mean() < 20 < np.abs(got - second.frames[0]).mean()


def test_segments_without_frames_are_listed_and_get_no_file(tmp_path):
    bag = make_labelled_bag(tmp_path, [0], storage="mcap")
    segments = [Segment(0.5, 1.5, CLASSES[0], 2), Segment(30.0, 31.0, CLASSES[1], 3)]
    result = extract_segments(bag.path, TOPIC, segments, tmp_path / "out")
    assert result.videos == [tmp_path / "out" / CLASSES[0] / "bag_0.mp4"] and result.empty == [segments[1]]
    assert result.fps == pytest.approx(FPS)
    assert not (tmp_path / "out" / CLASSES[1]).exists()


def test_a_cut_bag_keeps_the_segments_before_the_break_and_no_partial_file(tmp_path):
    bag = make_labelled_bag(tmp_path, [0, 1, 2], storage="mcap")
    cut(bag.path, 0.6)  # the break falls in the second segment
    out = tmp_path / "out"
    with pytest.raises(BagReadError, match="cut short"):
        extract_segments(bag.path, TOPIC, read_truth(bag.truth), out)
    assert [p.relative_to(out).as_posix() for p in sorted(out.rglob("*")) if p.is_file()] == \
        [f"{CLASSES[0]}/bag_0.mp4"]


def test_labels_that_cannot_be_folders_are_refused(tmp_path):
    bag = make_labelled_bag(tmp_path, [0], storage="mcap")
    truth = write_truth(tmp_path / "t.yaml", [(0.0, 1.0, "up/down")])
    with pytest.raises(TruthError, match=r"line 3: label 'up/down' cannot be a folder name"):
        extract_segments(bag.path, TOPIC, read_truth(truth), tmp_path / "out")


def test_frame_rate_is_the_median_period_so_a_dropped_frame_does_not_skew_it():
    stamps = [0.0, 1 / 15, 2 / 15, 4 / 15, 5 / 15, 6 / 15]  # frame 3 dropped
    assert frame_rate(stamps) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="cannot tell the frame rate from 1 frame"):
        frame_rate([3.0])
