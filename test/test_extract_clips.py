"""`ar-core extract-clips` end to end: real videos through the frame path with an X3D-XS whose scores follow the
frames' brightness (so where segments fall is known), cut into a class-folder data set `train` reads."""
import csv

import cv2
import numpy as np
import pytest
import torch

from ar_core.cli import main
from ar_core.data.video import probe, read_all_frames
from ar_core.models import build_model, get_spec
from ar_core.models.metadata import ModelMetadata
from ar_core.stream.extract_clips import COLUMNS, find_segments
from ar_core.train.config import load_config
from ar_core.train.datasets import build_dataset
from data_helpers import encode_video

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CROP = 32
DARK, BRIGHT = 38, 217
# 10 fps: dark 0-3 s, bright 3-7 s, dark 7-8 s, bright 8-9 s, dark 9-11 s.
LEVELS = [DARK] * 30 + [BRIGHT] * 40 + [DARK] * 10 + [BRIGHT] * 10 + [DARK] * 20


def brightness_model(folder):
    """Random-init X3D-XS whose head is set to score 'bright' for bright clips and 'dark' for dark ones: its
    projection points along the feature difference of a uniform bright and a uniform dark clip."""
    spec = get_spec("xs")
    torch.manual_seed(0)
    model = build_model("xs", num_classes=2).eval()
    seen = {}
    model.head.projection.register_forward_hook(lambda m, inputs, out: seen.update(f=inputs[0].mean((0, 1, 2, 3))))

    def features(level: float) -> torch.Tensor:
        clip = torch.full((1, 3, spec.frames, CROP, CROP), level)
        mean, std = (torch.tensor(v).view(1, 3, 1, 1, 1) for v in (spec.mean, spec.std))
        with torch.no_grad():
            model((clip - mean) / std)
        return seen["f"].clone()

    bright, dark = features(BRIGHT / 255), features(DARK / 255)
    direction = bright - dark
    scale = 20 / (direction @ direction)  # logit gap of 40 between the two uniform clips
    with torch.no_grad():
        model.head.projection.weight[:] = torch.stack([scale * direction, -scale * direction])
        offset = scale * direction @ (bright + dark) / 2
        model.head.projection.bias[:] = torch.stack([-offset, offset])
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "x3d_xs_brightness.pth"
    torch.save(model.state_dict(), weights)
    ModelMetadata.for_spec(spec, ["bright", "dark"], crop=CROP).write_json(weights.with_suffix(".json"))
    return weights


def grey_video(path, levels, fps):
    return encode_video(path, np.stack([np.full((48, 64, 3), v, np.uint8) for v in levels]), fps)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("extract")
    return (brightness_model(root / "model"), grey_video(root / "walk.mp4", LEVELS, 10),
            grey_video(root / "night.mkv", [DARK] * 45, 15))


def test_extract_clips_cuts_the_segments_into_a_folder_data_set(inputs, tmp_path, capsys):
    weights, walk, night = inputs
    out = tmp_path / "clips"
    assert main(["extract-clips", str(walk), str(night), "--classes", "bright,dark", "--segment-threshold", "0.75",
                 "--min-seconds", "2.2", "--out", str(out), "--weights", str(weights), "--device", "cpu",
                 "--num-threads", "1"]) == 0
    assert "4 clips from 2 videos" in capsys.readouterr().out.splitlines()[-1]

    # X3D-XS: clips of 4 samples 0.4 s apart (1.2 s); a prediction every sample from 1.2 s. Scores >= 0.75 run
    # over stamps 3.6-6.8 (bright), 1.2-2.8 and 9.6-10.8 (dark); each segment starts where its first clip does.
    # Too short: bright 8.0-8.8 (6.8-8.8 s, 2.0 s) and dark 7.6 (6.4-7.6 s).
    with open(out / "segments.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == COLUMNS
    found = [(r["video"], r["class"], float(r["start_s"]), float(r["end_s"])) for r in rows]
    assert found == [(str(walk), "dark", 0.0, pytest.approx(2.8, abs=1e-3)),
                     (str(walk), "bright", pytest.approx(2.4, abs=1e-3), pytest.approx(6.8, abs=1e-3)),
                     (str(walk), "dark", pytest.approx(8.4, abs=1e-3), pytest.approx(10.8, abs=1e-3)),
                     (str(night), "dark", 0.0, pytest.approx(2.8, abs=1e-3))]
    for row in rows:
        assert float(row["end_s"]) - float(row["start_s"]) >= 2.2
        assert 0.75 <= float(row["mean_score"]) <= float(row["max_score"]) <= 1.0

    # Each clip holds the source frames from its start to its end, at the source's rate.
    source = read_all_frames(walk)
    for row, fps in zip(rows, (10, 10, 10, 15)):
        clip = out / row["file"]
        assert clip.parent.name == row["class"] and clip.suffix == ".mp4"
        start, end = float(row["start_s"]), float(row["end_s"])
        frames = read_all_frames(clip)
        assert len(frames) == round((end - start) * fps) + 1
        assert probe(clip).fps == pytest.approx(fps)
        if row["video"] == str(walk):
            first = round(start * fps)
            assert np.abs(frames.mean((1, 2, 3)) - source[first:first + len(frames)].mean((1, 2, 3))).max() < 4
    assert (out / "bright" / "walk_2.40-6.80.mp4").is_file()

    for stem in ("walk", "night"):
        timeline = cv2.imread(str(out / f"{stem}_timeline.png"))
        assert timeline is not None and timeline.shape[1] > 600

    # The output is a class-folder data set: `train --dataset folder` reads it.
    config = load_config(None, {"dataset": "folder", "data_root": str(out), "crop": CROP})
    dataset = build_dataset(config, get_spec("xs"), "train")
    assert dataset.classes == ["bright", "dark"] and len(dataset) == 4 and not dataset.skipped
    assert sorted(label for _, label, _ in dataset.samples) == [0, 1, 1, 1]


def test_smoothing_setting_smooths_the_scores(inputs, tmp_path):
    # Averaged over 3 predictions, the scores need longer to cross 0.75: the bright segment starts later.
    weights, walk, _ = inputs
    assert main(["extract-clips", str(walk), "--classes", "bright", "--segment-threshold", "0.75",
                 "--min-seconds", "2.2", "--out", str(tmp_path), "--weights", str(weights), "--device", "cpu",
                 "--num-threads", "1", "--smoothing", "3"]) == 0
    with open(tmp_path / "segments.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["class"], float(r["start_s"])) for r in rows] == [("bright", pytest.approx(2.8, abs=1e-3))]


def test_unknown_classes_are_named_with_valid_ones(inputs, tmp_path, capsys):
    weights, walk, _ = inputs
    assert main(["extract-clips", str(walk), "--classes", "bright,jump,swim", "--out", str(tmp_path),
                 "--weights", str(weights), "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert "'jump', 'swim'" in error and "'bright', 'dark'" in error
    assert not list(tmp_path.iterdir())


def test_find_segments_keeps_long_enough_runs():
    stamps = np.arange(10) * 0.5 + 1.0
    scores = np.array([0.9, 0.9, 0.2, 0.8, 0.8, 0.8, 0.8, 0.1, 0.95, 0.6])
    assert find_segments(stamps, scores, 0.6, 1.5, 1.0) == [
        (0.0, 1.5, 0.9, 0.9), (1.5, 4.0, pytest.approx(0.8), pytest.approx(0.8)),
        (4.0, 5.5, pytest.approx(0.775), 0.95)]
    assert find_segments(stamps, scores, 0.6, 1.6, 1.0) == [(1.5, 4.0, pytest.approx(0.8), pytest.approx(0.8))]
    assert find_segments(stamps[:0], scores[:0], 0.5, 0.0, 1.0) == []


def test_a_broken_video_is_refused_before_any_clip_is_cut(inputs, tmp_path, capsys):
    weights, walk, _ = inputs
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(walk.read_bytes()[:500])
    out = tmp_path / "out"
    assert main(["extract-clips", str(walk), str(broken), "--classes", "dark", "--out", str(out),
                 "--weights", str(weights), "--device", "cpu"]) == 2
    assert f"{broken}: cannot open" in capsys.readouterr().err
    assert not out.exists()
