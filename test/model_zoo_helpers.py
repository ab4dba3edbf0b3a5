"""Shared by the model-zoo family tests (slowfast, lrcn, fstcn): counting, state-dict round trip, ONNX parity
with onnxruntime and a falling training loss, each on the real builder."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

Builder = Callable[..., nn.Module]
ENTRY_KEYS = {"title", "builder", "frames", "sampling_rate", "train_crop", "test_crop", "mean", "std", "params", "gflops",
              "figures_input", "checkpoint", "source", "classes_note"}


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(all parameters, parameters without BatchNorm's): torchvision counts the first, the X3D paper the second."""
    norm = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()}
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if id(p) not in norm)


def gflops(build: Callable[[], nn.Module], shape: tuple[int, ...]) -> float:
    """Multiply-adds (FlopCounterMode's total / 2, as ar_core.models.profile counts) of one eval forward at
    `shape`, on the meta device: full-size inputs are counted without computing anything."""
    with torch.device("meta"):
        model, clips = build().eval(), torch.zeros(shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(clips)
    return counter.get_total_flops() / 2 / 1e9


def with_batch_statistics(model: nn.Module, clips: torch.Tensor) -> nn.Module:
    """One train-mode forward so BatchNorm running statistics are not the trivial 0/1, then eval mode."""
    with torch.no_grad():
        model.train()(clips)
    return model.eval()


def assert_state_dict_round_trip(builder: Builder, clips: torch.Tensor, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = with_batch_statistics(builder(6), clips)
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    torch.manual_seed(1)
    fresh = builder(6)
    fresh.load_state_dict(torch.load(path, weights_only=True), strict=True)
    fresh.eval()
    with torch.no_grad():
        expected = model(clips)
        assert torch.equal(fresh(clips), expected)
        assert not torch.allclose(builder(6).eval()(clips), expected)  # a fresh build differs: the load mattered


def assert_onnx_matches_torch(builder: Builder, shape: tuple[int, ...], tmp_path: Path, classes: int = 5) -> None:
    """Exported as the project exports (dynamo, batch dynamic); onnxruntime at another batch equals eager."""
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(2)
    model = with_batch_statistics(builder(classes), torch.randn(4, *shape))
    path = tmp_path / "model.onnx"
    torch.onnx.export(model, (torch.zeros(2, *shape),), str(path), dynamo=True, optimize=True,
                      input_names=["clips"], output_names=["logits"],
                      dynamic_shapes=({0: torch.export.Dim("batch", min=1)},), verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    clips = torch.randn(3, *shape)
    (onnx_logits,) = session.run(None, {"clips": clips.numpy()})
    with torch.no_grad():
        expected = model(clips).numpy()
    assert onnx_logits.shape == (3, classes)
    np.testing.assert_allclose(onnx_logits, expected, rtol=0, atol=1e-4)


def training_losses(builder: Builder, shape: tuple[int, ...], steps: int, lr: float) -> list[float]:
    """Adam steps on 8 fixed random clips of 4 classes (dropout off, so the loss measures the fit alone)."""
    torch.manual_seed(3)
    clips, labels = torch.randn(8, *shape), torch.arange(8) % 4
    model = builder(4, dropout_rate=0.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(clips), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def assert_entry_complete(entry: dict) -> None:
    """The keys the registry reads, with values of the right kinds."""
    assert set(entry) == ENTRY_KEYS
    assert callable(entry["builder"])
    for key in ("frames", "sampling_rate", "train_crop", "test_crop"):
        assert isinstance(entry[key], int) and entry[key] > 0, key
    for key in ("mean", "std"):
        assert len(entry[key]) == 3 and all(0 < v < 1 for v in entry[key]), key
    assert len(entry["figures_input"]) == 3
    assert entry["source"] and entry["classes_note"]
