"""The training keys SlowFast/MindSpore recipes set: frames, sampling_rate, dropout_rate, eta_min,
checkpoint_every_epochs, keep_checkpoints, eval_batch_size; each reaches what it controls, and bad values are named."""
import json
from dataclasses import replace

import pytest
import torch

from ar_core import X3DLearner
from ar_core.cli import main
from ar_core.data import SyntheticMotion
from ar_core.models import MODEL_SPECS, build_model
from ar_core.models.profile import profile_model
from ar_core.runtime import open_model
from ar_core.train.checkpointing import list_checkpoints
from ar_core.train.config import ConfigError, TrainConfig, load_config
from ar_core.train.datasets import build_dataset
from ar_core.train.loop import Trainer
from ar_core.train.optim import lr_factor

from train_helpers import TINY

torch.set_num_threads(1)
KEYS = ("frames", "sampling_rate", "dropout_rate", "eta_min", "checkpoint_every_epochs", "keep_checkpoints",
        "eval_batch_size")


@pytest.mark.parametrize("key", KEYS)
def test_negative_values_are_named(key):
    with pytest.raises(ConfigError, match=f"{key}: must not be negative"):
        TrainConfig(**{key: -1})


def test_out_of_range_dropout_and_eta_min_are_named(tmp_path):
    with pytest.raises(ConfigError, match="dropout_rate: must be below 1"):
        TrainConfig(dropout_rate=1.0)
    config = tmp_path / "bad.yaml"
    config.write_text("lr: 0.01\neta_min: 0.1\n")
    with pytest.raises(ConfigError, match=rf"{config}: eta_min: 0.1 is above lr 0.01"):
        load_config(config)


def test_recipes_set_slowfast_values():
    for name, spec in MODEL_SPECS.items():
        if spec.family != "x3d":  # the Kinetics recipes in config/train are SlowFast's X3D ones
            continue
        config = load_config(f"config/train/{spec.file_stem}.yaml")
        assert (config.frames, config.sampling_rate) == (spec.frames, spec.sampling_rate), name
        assert config.dropout_rate == 0.5 and config.eta_min == 0.0 and config.checkpoint_every_epochs == 10
        assert config.eval_batch == (32 if name == "l" else 64)  # TEST.BATCH_SIZE


def test_dropout_rate_reaches_the_head():
    assert X3DLearner(**TINY, dropout_rate=0.2).model.head.dropout.p == 0.2
    assert X3DLearner(**TINY).model.head.dropout.p == 0.5  # SlowFast's MODEL.DROPOUT_RATE


def test_cosine_ends_at_eta_min():
    assert lr_factor(100, 100, "cosine", 0, 1.0, end_factor=0.1) == pytest.approx(0.1)
    assert lr_factor(50, 100, "cosine", 0, 1.0, end_factor=0.1) == pytest.approx(0.1 + 0.9 * 0.5)
    learner = X3DLearner(**TINY, batch_size=4, optimizer="sgd", lr=0.05, lr_schedule="cosine", eta_min=0.004)
    trainer = Trainer(learner.model, learner.config, learner.classes, torch.device("cpu"))
    trainer.fit(SyntheticMotion(8, size=32), None, epochs=2)  # 4 steps
    assert [group["lr"] for group in trainer.optimizer.param_groups] == pytest.approx([0.004, 0.004])


def test_epoch_checkpoints_are_pruned_to_the_newest_and_resume(tmp_path):
    data, val = SyntheticMotion(16, size=32, seed=4), SyntheticMotion(4, size=32, seed=5)  # 4 steps an epoch
    options = dict(TINY, batch_size=4, optimizer="sgd", lr=0.05, lr_schedule="cosine", seed=5,
                   temp_path=str(tmp_path / "all"), checkpoint_every_epochs=1)
    full = X3DLearner(**options)
    full.fit(data, val, epochs=3)
    assert list(list_checkpoints(tmp_path / "all")) == [4, 8, 12]  # the end of each epoch

    kept = X3DLearner(**{**options, "temp_path": str(tmp_path / "kept")}, keep_checkpoints=2,
                      checkpoint_after_iter=3)
    kept.fit(data, val, epochs=3)  # saves after 3, 4, 6, 8, 9, 12: only the 2 newest stay
    assert list(list_checkpoints(tmp_path / "kept")) == [9, 12]

    resumed = X3DLearner(**options, checkpoint_load_iter=8)  # an epoch checkpoint resumes like any other
    result = resumed.fit(data, val, epochs=3)
    assert result["iterations"] == 12 and [h["epoch"] for h in result["history"]] == [1, 2, 3]
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name


def test_eval_batch_size_sets_validation_and_eval_batches():
    learner = X3DLearner(**TINY, batch_size=4, eval_batch_size=2)
    batches = []  # (training?, clips) of every forward pass the network sees
    learner.model.register_forward_pre_hook(lambda module, args: batches.append((module.training, len(args[0]))))
    learner.fit(SyntheticMotion(4, size=32), SyntheticMotion(6, size=32, seed=2), epochs=1)
    assert batches == [(True, 4), (False, 2), (False, 2), (False, 2)]
    batches.clear()
    learner.eval(SyntheticMotion(3, size=32, seed=3))
    assert batches == [(False, 2), (False, 1)]


def test_frames_reach_the_clips_the_model_and_its_metadata(tmp_path, capsys):
    run = tmp_path / "run"
    common = ["--model", "xs", "--crop", "32", "--device", "cpu", "--dataset", "synthetic", "--synthetic-classes", "2",
              "--frames", "8", "--sampling-rate", "6"]
    assert main(["train", *common, "--synthetic-samples", "4", "--synthetic-val-samples", "2", "--batch-size", "4",
                 "--iters", "1", "--temp-path", str(run)]) == 0
    metadata = json.loads((run / "x3d_xs.json").read_text())
    assert (metadata["frames"], metadata["sampling_rate"]) == (8, 6)
    assert metadata["extra"]["training"]["frames"] == 8
    config = load_config(overrides=dict(model="xs", crop=32, frames=8))
    clip, _ = build_dataset(config, config.spec, "train")[0]
    assert clip.shape == (3, 8, 32, 32)
    source = open_model(run)  # what infer, export and the node open
    assert source.metadata.input_shape == (3, 8, 32, 32) and source.module.head.pool_size[0] == 8
    learner = X3DLearner(backbone="xs", device="cpu").load(run)
    assert (learner.spec.frames, learner.spec.sampling_rate, learner.config.frames) == (8, 6, 8)

    metrics_path = tmp_path / "metrics.json"
    assert main(["eval", "--weights", str(run), *common[:-4], "--synthetic-val-samples", "2", "--save-metrics-to", str(metrics_path)]) == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["protocol"] == "single-view"  # SyntheticMotion items are one clip
    assert metrics["frame_accuracy"] == metrics["top1"]  # one window per clip, its label on every frame
    profile = profile_model(build_model("xs", 2, frames=8), replace(MODEL_SPECS["xs"], frames=8, train_crop=32))
    assert (metrics["params"], metrics["gflops"]) == (profile.params, pytest.approx(profile.gflops))
    four_frames = profile_model(build_model("xs", 2), replace(MODEL_SPECS["xs"], train_crop=32)).gflops
    assert metrics["gflops"] == pytest.approx(2 * four_frames, rel=0.05)  # twice the frames, twice the FLOPs
    assert metrics["top3"] == 1.0  # two classes
    assert "single-view" in capsys.readouterr().out
