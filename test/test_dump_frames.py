"""`ar-core dump-frames` on real videos: rawframes + the 7-field annotation file read back by `--dataset rawframes`,
resumable, with unreadable videos listed while the others are dumped."""
import os

import cv2
import numpy as np
import pytest

from ar_core.cli import main
from ar_core.data import AnnotationError, RawFramesDataset
from ar_core.data.dump_frames import dump_frames, read_video_list
from ar_core.data.video import read_all_frames
from ar_core.train.config import load_config
from ar_core.train.datasets import build_dataset
from ar_core.models import get_spec
from data_helpers import encode_video, pattern_frames

SMALL = dict(frames=4, sampling_rate=6, crop=32, mean=(0.45,) * 3, std=(0.225,) * 3, short_side=32)
VIDEOS = {"walk/v1.mp4": (0, 20, 15), "walk/v2.avi": (0, 12, 10), "run/v3.mkv": (1, 16, 30)}  # label, frames, fps


@pytest.fixture()
def videos(tmp_path):
    root = tmp_path / "videos"
    for seed, (relative, (_, count, fps)) in enumerate(VIDEOS.items()):
        encode_video(root / relative, pattern_frames(count, 36, 48, seed=seed), fps,
                     "mpeg4" if relative.endswith(".avi") else "h264")
    lines = [f"{relative} {label}" for relative, (label, _, _) in VIDEOS.items()]
    (root / "train_list.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "labels.txt").write_text("walk\nrun\n")
    return root


def test_dump_frames_round_trip_through_rawframes(videos, tmp_path, capsys):
    out = tmp_path / "frames"
    assert main(["dump-frames", "--list", str(videos / "train_list.txt"), "--out", str(out), "--jobs", "2"]) == 0
    assert "3 videos dumped, 0 already done, 0 unreadable" in capsys.readouterr().out

    annotations = out / "train_list_rawframes.txt"
    rows = [line.split() for line in annotations.read_text().splitlines()]
    assert rows == [["walk/v1", "0", "1", "20", "1", "20", "15"], ["walk/v2", "0", "1", "12", "1", "12", "10"],
                    ["run/v3", "1", "1", "16", "1", "16", "30"]]
    decoded = read_all_frames(videos / "walk/v1.mp4")
    dumped = sorted((out / "walk/v1").iterdir())
    assert [p.name for p in dumped] == [f"img_{i:05d}.jpg" for i in range(1, 21)]
    first = cv2.cvtColor(cv2.imread(str(dumped[0])), cv2.COLOR_BGR2RGB)
    assert np.abs(first.astype(int) - decoded[0]).mean() < 6  # the decoded frame, as a JPEG
    assert not [p for p in out.rglob(".*partial")]

    dataset = RawFramesDataset(out, annotations, label_file=tmp_path / "labels.txt", mode="val", **SMALL)
    assert dataset.classes == ["walk", "run"] and len(dataset) == 3 and not dataset.skipped
    assert [s.count for s, _, _ in dataset.samples] == [20, 12, 16]
    clip, label = dataset[2]
    assert clip.shape == (3, 4, 32, 32) and label == 1

    # The same through the training config: --dataset rawframes reads what dump-frames wrote.
    config = load_config(None, {"dataset": "rawframes", "data_root": str(out), "annotations": str(annotations),
                                "val_annotations": str(annotations), "labels": str(tmp_path / "labels.txt")})
    train = build_dataset(config, get_spec("xs"), "train")
    assert len(train) == 3 and train.classes == ["walk", "run"]


def test_dump_frames_is_resumable_and_lists_unreadable_videos(videos, tmp_path, capsys):
    out = tmp_path / "frames"
    (videos / "broken.mp4").write_bytes((videos / "walk/v1.mp4").read_bytes()[:600])  # cut off mid-download
    (videos / "train_list.txt").write_text((videos / "train_list.txt").read_text() + "broken.mp4 1\n")
    os.makedirs(out / ".v1.partial")  # noise that must not be mistaken for a finished folder
    (out / "walk").mkdir()
    stale = out / "walk" / ".v1.partial"
    stale.mkdir()
    (stale / "img_00001.jpg").write_bytes(b"half a run ago")

    assert main(["dump-frames", "--list", str(videos / "train_list.txt"), "--out", str(out), "--jobs", "2"]) == 1
    captured = capsys.readouterr()
    assert "3 videos dumped, 0 already done, 1 unreadable" in captured.out
    assert f"unreadable: {videos / 'broken.mp4'}: cannot open" in captured.err
    assert not (out / "broken").exists() and not stale.exists()
    lines = (out / "train_list_rawframes.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["walk/v1", "walk/v2", "run/v3"]

    # Second run: the finished folders are kept as they are (their lines rebuilt), a removed one is redone.
    marker = (out / "walk/v1/img_00001.jpg").stat().st_mtime_ns
    for path in (out / "run/v3").iterdir():
        path.unlink()
    (out / "run/v3").rmdir()
    result = dump_frames(videos / "train_list.txt", out, jobs=1, progress=False)
    assert result.skipped == [str(videos / "walk/v1.mp4"), str(videos / "walk/v2.avi")]
    assert result.dumped == [str(videos / "run/v3.mkv")]
    assert [video for video, _ in result.failed] == [str(videos / "broken.mp4")]
    assert (out / "walk/v1/img_00001.jpg").stat().st_mtime_ns == marker
    assert (out / "train_list_rawframes.txt").read_text().splitlines() == lines


def test_dump_frames_short_side_template_and_label_names(videos, tmp_path):
    (videos / "named.txt").write_text("walk/v2.avi walk\nrun/v3.mkv run\n")
    result = dump_frames(videos / "named.txt", tmp_path / "out", labels=tmp_path / "labels.txt",
                         annotations=tmp_path / "ann.txt", frame_template="{:06d}.png", short_side=24,
                         progress=False)
    assert result.annotations.read_text().split("\n")[1].split()[:2] == ["run/v3", "1"]
    image = cv2.imread(str(tmp_path / "out/run/v3/000016.png"))
    assert image.shape == (24, 32, 3)
    dataset = RawFramesDataset(tmp_path / "out", tmp_path / "ann.txt", "{:06d}.png", mode="val", **SMALL)
    assert len(dataset) == 2


@pytest.mark.parametrize("text, reason", [
    ("walk/v1.mp4\n", "expected '<video> <label>'"),
    ("walk/v1.mp4 jump\n", "label 'jump' is not a 0-based integer"),
    ("walk/v1.mp4 -1\n", "out of range"),
    ("walk/v1.mp4 5\n", "out of range 0..1"),
    ("../v1.mp4 0\n", "points outside the dataset root"),
    ("walk/v1.mp4 0\nwalk/v1.avi 1\n", "share the frame folder 'walk/v1' with line 1"),
])
def test_bad_video_lists_name_the_file_and_line(tmp_path, text, reason):
    (tmp_path / "list.txt").write_text(text)
    with pytest.raises(AnnotationError, match=reason) as error:
        read_video_list(tmp_path / "list.txt", labels=["walk", "run"])
    assert str(tmp_path / "list.txt") in str(error.value)
    assert f"list.txt:{len(text.splitlines())}:" in str(error.value)


def test_bad_frame_template_is_refused(videos, tmp_path, capsys):
    assert main(["dump-frames", "--list", str(videos / "train_list.txt"), "--out", str(tmp_path / "o"),
                 "--frame-template", "img.jpg"]) == 2
    assert "frame template 'img.jpg'" in capsys.readouterr().err
