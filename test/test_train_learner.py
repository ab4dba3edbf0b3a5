"""X3DLearner: save/load round trips, versioned names, official checkpoints, exported models, ONNX Runtime
inference, OpenDR's documented examples, bad videos."""
import inspect
import json

import numpy as np
import pytest
import torch

from ar_core import X3DLearner
from ar_core.data import SyntheticMotion, VideoFolderDataset, render_motion_frames
from ar_core.labels import kinetics400_labels
from ar_core.models import CheckpointError, build_model
from ar_core.runtime import ModelFormatError
from ar_core.devices import DeviceUnavailable
from ar_core.train.config import ConfigError, TrainConfig

from data_helpers import encode_video
from train_helpers import TINY, serving

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained():
    """A learner after two steps on SyntheticMotion: it has adopted the data set's class names."""
    learner = X3DLearner(**TINY, batch_size=4, optimizer="sgd", lr=0.01, seed=3)
    learner.fit(SyntheticMotion(8, size=32, seed=1), steps=2)
    return learner


@pytest.fixture(scope="module")
def clips():
    data = SyntheticMotion(3, size=32, seed=9)
    return torch.stack([data[i][0] for i in range(3)])


def _probs(learner, clips):
    return learner.probabilities(clips)


def test_save_writes_weights_and_metadata_with_versions(trained, tmp_path):
    first = trained.save(tmp_path / "run")
    second = trained.save(tmp_path / "run")
    assert first.name == "x3d_xs.pth" and second.name == "x3d_xs_1.pth"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == \
        ["x3d_xs.json", "x3d_xs.pth", "x3d_xs_1.json", "x3d_xs_1.pth"]
    metadata = json.loads((tmp_path / "run" / "x3d_xs.json").read_text())
    assert metadata["model"] == "xs" and metadata["crop"] == 32 and metadata["frames"] == 4
    assert metadata["classes"] == ["move right", "move left", "move up", "move down"]
    assert metadata["extra"]["training"]["optimizer"] == "sgd"
    state = torch.load(first, weights_only=True)  # a plain state dict
    assert set(state) == set(trained.model.state_dict())


@pytest.mark.parametrize("target", ["dir", "json", "pth"])
def test_load_round_trip(trained, clips, tmp_path, target):
    weights = trained.save(tmp_path)
    path = {"dir": tmp_path, "json": weights.with_suffix(".json"), "pth": weights}[target]
    fresh = X3DLearner(**{**TINY, "seed": 99})
    assert not torch.allclose(_probs(fresh, clips), _probs(trained, clips))
    fresh.load(path)
    assert fresh.classes == trained.classes
    assert torch.allclose(_probs(fresh, clips), _probs(trained, clips), atol=1e-6)
    assert [c.name for c in fresh.infer(clips)] == [c.name for c in trained.infer(clips)]


def test_directory_load_takes_the_newest_version(trained, clips, tmp_path):
    old = X3DLearner(**{**TINY, "seed": 42})
    old.save(tmp_path)  # x3d_xs: other weights
    trained.save(tmp_path)  # x3d_xs_1: the newest
    fresh = X3DLearner(**TINY)
    fresh.load(tmp_path)
    assert torch.allclose(_probs(fresh, clips), _probs(trained, clips), atol=1e-6)


def test_official_pyth_and_bare_weights(tmp_path, clips):
    kinetics = build_model("xs").eval()
    torch.save({"model_state": kinetics.state_dict(), "epoch": 300}, tmp_path / "x3d_xs.pyth")
    learner = X3DLearner(backbone="xs", device="cpu", crop=32)
    learner.load(tmp_path / "x3d_xs.pyth")
    assert learner.classes == list(kinetics400_labels())
    with torch.no_grad():
        assert torch.allclose(_probs(learner, clips), kinetics(clips), atol=1e-6)
    torch.save(kinetics.state_dict(), tmp_path / "bare.pth")  # a plain state dict: the learner's backbone
    assert learner.load(tmp_path / "bare.pth").classes == list(kinetics400_labels())
    # Other class counts need names: the one model loader refuses to invent them, for the node's sake too.
    torch.save(build_model("xs", num_classes=3).state_dict(), tmp_path / "three.pth")
    with pytest.raises(ModelFormatError, match="three.pth has a 3-class head and no metadata naming its classes"):
        learner.load(tmp_path / "three.pth")


def test_metadata_beside_weights_decides_the_size(tmp_path):
    X3DLearner(**{**TINY, "backbone": "s"}).save(tmp_path)  # X3D-S: the same tensors as XS, 13 frames
    learner = X3DLearner(**TINY)
    learner.load(tmp_path / "x3d_s.pth")
    assert learner.spec.name == "s" and learner.config.model == "s" and learner.metadata().frames == 13


def test_load_refuses_what_it_cannot_use(tmp_path):
    learner = X3DLearner(**TINY)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt"):
        learner.load(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="no model file in"):
        learner.load(tmp_path)
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        learner.load(tmp_path / "garbage.pth")


def test_unknown_option_and_class_mismatch_are_named():
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        X3DLearner(learning_rate=0.1)
    with pytest.raises(ConfigError, match="optimizer: 'rmsprop'"):
        X3DLearner(optimizer="rmsprop", device="cpu")
    learner = X3DLearner(**{**TINY, "num_classes": 3})
    with pytest.raises(ConfigError, match="num_classes: the model has 3 classes, the training set 4"):
        learner.fit(SyntheticMotion(8, size=32), steps=1)


def test_optimize_runs_onnxruntime_with_the_same_answers(trained, clips, tmp_path):
    learner = X3DLearner(**{**TINY, "temp_path": str(tmp_path / "work")})
    learner.load(trained.save(tmp_path / "saved"))
    expected = _probs(learner, clips)
    learner.optimize()
    assert learner.engine is not None and learner.engine.backend == "onnxruntime"
    assert torch.allclose(_probs(learner, clips), expected, atol=1e-4)
    single = learner.infer(clips[0])  # one (3, T, S, S) clip
    assert len(single) == 1 and single[0].class_id == int(expected[0].argmax())
    assert single[0].confidence == pytest.approx(float(expected[0].max()), abs=1e-4)
    weights = learner.save(tmp_path / "saved")
    assert weights.with_suffix(".onnx").is_file() and weights.name == "x3d_xs_1.pth"


def test_unreadable_videos_do_not_stop_training_and_are_reported(tmp_path):
    for label, name in enumerate(["right", "left"]):
        for i in range(3):
            frames = render_motion_frames(label, 24, 40, fps=15, seed=10 * label + i)
            encode_video(tmp_path / name / f"{name}_{i}.mp4", frames, fps=15)
    (tmp_path / "right" / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    dataset = VideoFolderDataset(tmp_path, frames=4, sampling_rate=12, crop=32, seed=0)
    assert [path.endswith("broken.mp4") for path, _ in dataset.skipped] == [True]
    (tmp_path / "left" / "left_2.mp4").unlink()  # vanishes after probing: fails when read, in a worker process
    learner = X3DLearner(**{**TINY, "num_classes": 2, "batch_size": 6, "num_workers": 1})
    result = learner.fit(dataset, epochs=1)
    assert result["iterations"] == 1
    reported = {path.rsplit("/", 1)[-1]: reason for path, reason in result["skipped"]}
    assert set(reported) == {"broken.mp4", "left_2.mp4"}
    assert reported["left_2.mp4"] == "file not found"


def test_training_on_videos_gives_the_same_weights_with_or_without_workers(tmp_path):
    # Random clip placement, scale, crop and flip depend on (seed, epoch, index), not on the process that reads.
    for label, name in enumerate(["right", "left"]):
        for i in range(4):
            frames = render_motion_frames(label, 40, 48, fps=15, seed=10 * label + i)
            encode_video(tmp_path / name / f"{name}_{i}.mp4", frames, fps=15)
    weights = []
    for workers in (0, 2):
        dataset = VideoFolderDataset(tmp_path, frames=4, sampling_rate=12, crop=32, seed=0)
        learner = X3DLearner(**{**TINY, "num_classes": 2, "batch_size": 4, "num_workers": workers}, optimizer="sgd",
                             lr=0.05, seed=5)
        initial = learner.model.head.projection.weight.detach().clone()
        learner.fit(dataset, epochs=2)
        weights.append(learner.model.state_dict())
    assert not torch.equal(weights[0]["head.projection.weight"], initial)  # it trained
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


def test_opendr_download_and_load_example_runs_as_documented(tmp_path, monkeypatch, clips):
    # OpenDR's docs: X3DLearner.download(path=..., model_names={"xs"}) on the class, then
    # learner = X3DLearner(backbone="xs", device="cpu").load(weights_path). Served by a loopback mirror.
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    kinetics = build_model("xs").eval()
    torch.save({"model_state": kinetics.state_dict(), "epoch": 300}, mirror / "x3d_xs.pyth")
    weights_path = tmp_path / "weights"
    with serving(mirror) as url:
        monkeypatch.setenv("AR_ROS_MODEL_ZOO", url)
        X3DLearner.download(path=weights_path, model_names={"xs"})
        assert (weights_path / "x3d_xs.pyth").exists()
        learner = X3DLearner(backbone="xs", device="cpu").load(weights_path)
        assert learner.download(path=tmp_path / "again", model_names={"xs"}) == [tmp_path / "again" / "x3d_xs.pyth"]
    assert isinstance(learner, X3DLearner) and learner.classes == list(kinetics400_labels())
    with torch.no_grad():
        assert torch.allclose(_probs(learner, clips), kinetics(clips), atol=1e-6)


def test_fit_writes_tensorboard_to_logging_path(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    learner = X3DLearner(**TINY, batch_size=4)
    learner.fit(dataset=SyntheticMotion(8, size=32, seed=1), val_dataset=SyntheticMotion(4, size=32, seed=2),
                steps=2, logging_path=tmp_path / "logs")
    events = EventAccumulator(str(tmp_path / "logs"))
    events.Reload()
    assert {"train/loss", "val/top1"} <= set(events.Tags()["scalars"])
    assert [event.step for event in events.Scalars("train/loss")] == [1, 2]


def test_device_defaults_to_auto_and_missing_cuda_is_one_line():
    assert inspect.signature(X3DLearner).parameters["device"].default == "auto" == TrainConfig().device
    learner = X3DLearner(**{key: value for key, value in TINY.items() if key != "device"})
    assert learner.device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailable) as raised:
            X3DLearner(**{**TINY, "device": "cuda"})
        assert str(raised.value) == "device 'cuda' requested but CUDA is not available here; use auto or cpu"


def test_threshold_leaves_out_predictions_below_it(trained, clips, tmp_path):
    weights = trained.save(tmp_path)
    confidences = sorted(float(c) for c in _probs(trained, clips).max(dim=1).values)
    assert confidences[0] < confidences[-1]
    learner = X3DLearner(**TINY, threshold=confidences[-1]).load(weights)
    kept = learner.infer(clips)
    assert len(kept) == 3 and sum(c is not None for c in kept) == confidences.count(confidences[-1])
    assert all(c is None or c.confidence >= confidences[-1] for c in kept)
    assert None not in X3DLearner(**TINY).load(weights).infer(clips)  # OpenDR's 0.0 keeps every clip
    with pytest.raises(ConfigError, match="threshold: must be between 0 and 1"):
        X3DLearner(**TINY, threshold=1.5)
    with pytest.raises(ConfigError, match="backbone="):
        X3DLearner(model="xs")


@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_exported_model_evaluates_like_its_weights(trained, tmp_path, fmt):
    from ar_core.runtime.export import export_checkpoint

    exported = export_checkpoint(trained.save(tmp_path / "run"), fmt, tmp_path / "exported").files[0]
    learner = X3DLearner(**{**TINY, "seed": 99}).load(exported)
    assert learner.exported == exported and learner.engine is not None and learner.classes == trained.classes
    data = SyntheticMotion(12, size=32, seed=4)
    ours, theirs = learner.eval(data), trained.eval(data)
    for key in ("loss", "top1", "top5", "mean_class_accuracy"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-4), key
    assert ours["samples"] == 12
    with pytest.raises(ValueError, match="fit\\(\\) needs PyTorch weights"):
        learner.fit(data, steps=1)
