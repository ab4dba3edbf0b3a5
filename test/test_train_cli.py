"""`ar-core train | eval | download` on real PyAV-encoded videos, and the errors they give for bad input."""
import contextlib
import io
import json
import re

import numpy as np
import pytest
import torch

from ar_core.cli import main
from ar_core.data import render_motion_frames

from data_helpers import encode_video

torch.set_num_threads(1)
CLASSES = ("move right", "move left")
FOLDERS = ("right", "left")
COMMON = ["--model", "xs", "--crop", "32", "--device", "cpu", "--dataset", "folder"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """train/ and val/ class folders of SyntheticMotion videos at 15 fps, plus one corrupt file in train/."""
    root = tmp_path_factory.mktemp("videos")
    for label, folder in enumerate(FOLDERS):
        for i in range(3):
            encode_video(root / "train" / folder / f"{i}.mp4", render_motion_frames(label, 24, 40, 15, seed=i), 15)
        encode_video(root / "val" / folder / "0.mp4", render_motion_frames(label, 24, 40, 15, seed=100), 15)
    (root / "train" / "right" / "broken.mp4").write_bytes(np.random.default_rng(1).bytes(4096))
    return root


@pytest.fixture(scope="module")
def trained_run(videos, tmp_path_factory):
    """One iteration of `ar-core train` on the folder data set: (run directory, what it printed)."""
    run = tmp_path_factory.mktemp("run")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", *COMMON, "--data-root", str(videos / "train"), "--val-root", str(videos / "val"),
                     "--batch-size", "6", "--iters", "1", "--optimizer", "sgd", "--lr", "0.01",
                     "--temp-path", str(run)])
    assert code == 0
    return run, printed.getvalue()


def test_train_saves_the_model_and_reports_the_corrupt_video(trained_run):
    run, printed = trained_run
    assert "trained 1 iterations" in printed
    assert "skipped 1 unreadable video(s)" in printed and "broken.mp4" in printed
    assert (run / "x3d_xs.pth").is_file()
    metadata = json.loads((run / "x3d_xs.json").read_text())
    assert metadata["classes"] == ["left", "right"]  # class folders, sorted
    assert any((run / "tensorboard").iterdir())


def test_eval_writes_metrics_and_confusion_png(trained_run, videos, tmp_path, capsys):
    metrics_path = tmp_path / "out" / "metrics.json"
    code = main(["eval", "--weights", str(trained_run[0]), *COMMON, "--val-root", str(videos / "val"),
                 "--test-clips", "2", "--test-crops", "3", "--save-metrics-to", str(metrics_path)])
    assert code == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["samples"] == 2 and metrics["classes"] == ["left", "right"]
    assert sum(map(sum, metrics["confusion"])) == 2
    assert set(metrics["per_class_accuracy"]) == {"left", "right"}
    assert metrics["protocol"] == "2x3-view" and metrics["top3"] == 1.0  # 2 classes
    assert 0.0 <= metrics["frame_accuracy"] <= 1.0 and metrics["params"] > 0 and metrics["gflops"] > 0
    frames_right = metrics["frame_accuracy"] * 2 * 24  # 2 validation videos of 24 frames: a count of frames
    assert frames_right == pytest.approx(round(frames_right))
    png = tmp_path / "out" / "metrics_confusion.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "2 videos (2x3-view): top-1" in capsys.readouterr().out


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("openvino", ".xml")])
def test_eval_scores_an_exported_model_as_its_weights(trained_run, videos, tmp_path, fmt, suffix):
    # train -> export -> evaluate the export, as OTX users do
    exported = tmp_path / "exported"
    assert main(["export", "--weights", str(trained_run[0] / "x3d_xs.pth"), "--format", fmt, "--out",
                 str(exported)]) == 0
    (model_file,) = exported.glob(f"*{suffix}")
    scores = {}
    for name, weights in (("weights", trained_run[0]), ("exported", model_file)):
        path = tmp_path / f"{name}.json"
        assert main(["eval", "--weights", str(weights), *COMMON, "--val-root", str(videos / "val"),
                     "--test-clips", "2", "--test-crops", "3", "--save-metrics-to", str(path)]) == 0
        scores[name] = json.loads(path.read_text())
    assert scores["exported"]["samples"] == 2
    for key in ("loss", "top1", "top5", "mean_class_accuracy"):
        assert scores["exported"][key] == pytest.approx(scores["weights"][key], abs=1e-4), key


def test_each_command_lists_only_the_keys_it_reads(capsys):
    flags = {}
    for command in ("train", "eval"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        flags[command] = set(re.findall(r"(--[a-z][a-z-]+)", capsys.readouterr().out))
    assert {"--model", "--device", "--dataset", "--labels", "--crop", "--batch-size"} <= flags["train"] & flags["eval"]
    assert {"--lr", "--optimizer", "--iters", "--temp-path", "--amp"} <= flags["train"] - flags["eval"]
    assert {"--test-clips", "--test-crops", "--weights"} <= flags["eval"] - flags["train"]
    assert not {"--backbone", "--label-file", "--num-classes"} & (flags["train"] | flags["eval"])


def test_unknown_config_key_is_named(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("model: xs\nlearning_rate: 0.1\n")
    assert main(["train", "--config", str(config), "--temp-path", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "unknown key(s) learning_rate" in err and str(config) in err


def test_bad_values_are_named(tmp_path, capsys):
    assert main(["train", "--optimizer", "rmsprop", "--device", "cpu", "--temp-path", str(tmp_path)]) == 2
    assert "optimizer: 'rmsprop' is not one of 'sgd', 'adam'" in capsys.readouterr().err
    assert main(["train", *COMMON, "--temp-path", str(tmp_path)]) == 2  # folder without --data-root
    assert "dataset 'folder' needs data_root" in capsys.readouterr().err
    assert main(["eval", "--device", "cpu", "--dataset", "synthetic"]) == 2
    assert "no model: pass --weights" in capsys.readouterr().err


def test_download_skips_files_already_present(tmp_path, capsys):
    for name in ("xs", "s"):
        (tmp_path / f"x3d_{name}.pyth").write_bytes(b"cached")
    assert main(["download", "--model", "xs,s", "--dest", str(tmp_path)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "x3d_xs.pyth"), str(tmp_path / "x3d_s.pyth")]
    published = ["x3d_xs.pyth", "x3d_s.pyth", "x3d_m.pyth", "x3d_l.pyth", "r3d_18-b3b3357e.pth",
                 "r2plus1d_18-91a641e6.pth", "s3d-d76dad2f.pth"]
    for name in published:
        (tmp_path / name).write_bytes(b"cached")
    assert main(["download", "--dest", str(tmp_path)]) == 0  # default: every entry with a published checkpoint
    assert capsys.readouterr().out.split() == [str(tmp_path / name) for name in published]
    assert main(["download", "--model", "lrcn", "--dest", str(tmp_path)]) == 2
    assert "no published checkpoint to download for 'lrcn'" in capsys.readouterr().err
