"""Shared by the runtime tests: a small X3D-XS trained a little on SyntheticMotion (so its predictions are not
flat), its files (weights + json, ONNX, OpenVINO IR), and clips to compare backends on.

Everything is built once per test process (functools.cache) in one temporary folder: training and export are
the slow parts, and every runtime test file needs them.
"""
from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import torch

from ar_core.data import SyntheticMotion
from ar_core.models import build_model, get_spec
from ar_core.models.metadata import ModelMetadata

CROP, CLASSES, FRAMES = 64, 4, 4
_FOLDER = tempfile.TemporaryDirectory(prefix="ar-core-runtime-tests-")


def folder() -> Path:
    return Path(_FOLDER.name)


def metadata() -> ModelMetadata:
    return ModelMetadata.for_spec(get_spec("xs"), SyntheticMotion(1, CLASSES).classes, crop=CROP)


def motion_clips(count: int, seed: int) -> SyntheticMotion:
    return SyntheticMotion(count, CLASSES, frames=FRAMES, size=CROP, seed=seed)


@cache
def trained_model() -> torch.nn.Module:
    """X3D-XS with 4 classes, trained a little on SyntheticMotion so its outputs are far from uniform.

    Cheap on purpose: BatchNorm statistics are measured on the clips, then the last stage (s5) and the head
    are trained on the output of the frozen, randomly initialised s1-s4 (BatchNorm frozen). Eval mode.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same model whatever the caller's threads; small ops run fastest on one
    try:
        return _train_a_little()
    finally:
        torch.set_num_threads(threads)


def training_clips() -> SyntheticMotion:
    """The clips trained_model() learns (it gets them all right; held-out clips it scores at about chance)."""
    return motion_clips(64, seed=7)


def _train_a_little() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("xs", num_classes=CLASSES)
    data = training_clips()
    clips = torch.stack([data[i][0] for i in range(len(data))])
    labels = torch.tensor([data[i][1] for i in range(len(data))])
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.momentum = None  # cumulative average over the batches below
        model.train()
        for batch in clips.split(16):
            model(batch)
        model.eval()
        features = clips
        for stage in (model.s1.pathway0_stem, model.s2, model.s3, model.s4):
            features = stage(features)
    trained = torch.nn.Sequential(model.s5, model.head)
    optimizer = torch.optim.Adam(trained.parameters(), lr=1e-3)
    for step in range(60):
        batch = torch.arange(step * 16, step * 16 + 16) % len(data)
        # Eval mode (frozen BatchNorm, no dropout) but log-probabilities, so the loss is the usual cross-entropy.
        loss = torch.nn.functional.nll_loss(trained(features[batch]).clamp_min(1e-8).log(), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.momentum = 0.1
    return model.eval()


@cache
def weights_file() -> Path:
    """x3d_xs.pth with x3d_xs.json beside it."""
    path = folder() / "weights" / "x3d_xs.pth"
    path.parent.mkdir()
    torch.save(trained_model().state_dict(), path)
    metadata().write_json(path.with_suffix(".json"))
    return path


@cache
def onnx_file() -> Path:
    from ar_core.runtime.onnx_export import export_onnx

    return export_onnx(trained_model(), metadata(), folder() / "onnx" / "x3d_xs.onnx")


@cache
def openvino_file() -> Path:
    from ar_core.runtime.export import export_openvino

    return export_openvino(onnx_file(), None, folder() / "openvino" / "x3d_xs.xml")


@cache
def test_clips() -> np.ndarray:
    """Six SyntheticMotion clips (another seed than training) as one float32 batch."""
    data = motion_clips(6, seed=99)
    return np.stack([data[i][0].numpy() for i in range(len(data))])


@cache
def eager_probabilities() -> np.ndarray:
    model, clips = trained_model(), torch.from_numpy(test_clips())
    with torch.inference_mode():
        return model(clips).numpy()
