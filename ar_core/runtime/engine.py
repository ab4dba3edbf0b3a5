"""One inference interface over every runtime: `create_engine(source, backend)` -> InferenceEngine.

    engine = create_engine("x3d_xs.pyth", backend="openvino", num_threads=2, model="xs")
    probabilities = engine.predict(clips)  # (N, 3, T, S, S) float32 -> (N, classes) float32
    engine.close()

Backends (one module each): torch, torch-compile, onnxruntime, openvino, tensorrt, and auto, which times
the available ones on this model and keeps the fastest. See docs/runtimes.md.
"""
from __future__ import annotations

import importlib
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from ..models.metadata import ModelMetadata
from .errors import BackendUnavailable, InputShapeError, ModelFormatError
from .sources import ModelSource, from_module, model_files, open_file

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16")
Clips = np.ndarray | torch.Tensor


class InferenceEngine(ABC):
    """Runs one model. `predict` takes clips (N, 3, T, S, S) float32, numpy or torch, normalised as the
    metadata says, and returns class probabilities (N, classes) as float32 numpy."""

    backend: str  # the name create_engine knows it by

    def __init__(self, metadata: ModelMetadata, device: str):
        self.metadata = metadata
        self.device = device  # where it actually runs (after any fallback)
        self.closed = False

    def predict(self, clips: Clips) -> np.ndarray:
        if self.closed:
            raise RuntimeError(f"{self!r} is closed")
        self._check_clips(clips)
        return np.asarray(self._predict(clips), dtype=np.float32)

    def close(self) -> None:
        """Release the model and its memory (GPU memory too); the engine cannot predict afterwards."""
        if not self.closed:
            self._release()
            self.closed = True

    @abstractmethod
    def _predict(self, clips: Clips) -> np.ndarray:
        """Probabilities for clips that passed the checks."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the runtime's objects so their memory is freed."""

    def __enter__(self) -> "InferenceEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.metadata.input_shape))
        return (f"{type(self).__name__}(backend={self.backend!r}, device={self.device!r}, "
                f"model=X3D-{self.metadata.model.upper()}, clips={shape}, classes={self.metadata.num_classes})")

    def _check_clips(self, clips: Clips) -> None:
        if not isinstance(clips, (np.ndarray, torch.Tensor)):
            raise InputShapeError(f"clips must be a numpy array or torch tensor, got {type(clips).__name__}")
        if clips.dtype not in (np.float32, torch.float32):
            raise InputShapeError(f"clips must be float32 (normalised RGB), got {clips.dtype}")
        expected = self.metadata.input_shape
        shape = tuple(clips.shape)
        if len(shape) == 4 and shape == expected:
            raise InputShapeError(f"got one clip of shape {shape}; predict takes a batch (N, 3, T, S, S): "
                                  f"use clips[None]")
        if len(shape) != 5 or shape[1:] != expected or shape[0] < 1:
            got = "x".join(map(str, shape[1:])) if len(shape) == 5 else f"an array of shape {shape}"
            raise InputShapeError(f"model expects {'x'.join(map(str, expected))} clips, got {got} "
                                  f"(batch shape {shape})")


@dataclass(frozen=True)
class Backend:
    name: str
    module: str  # ar_core.runtime.<module>, whose open_engine(source, device, ...) builds the engine
    package: str  # the Python package it needs
    inputs: tuple[str, ...]  # source kinds it runs, preferred first; a torch model is exported to ONNX first
    preset: dict = field(default_factory=dict)  # fixed options for open_engine

    def open(self, source: ModelSource, **settings) -> InferenceEngine:
        module = importlib.import_module(f"{__package__}.{self.module}")
        return module.open_engine(source, **{**settings, **self.preset})


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("torch", "torch_backend", "torch", ("torch",)),
    Backend("torch-compile", "torch_backend", "torch", ("torch",), {"compile": True}),
    Backend("onnxruntime", "onnxruntime_backend", "onnxruntime", ("onnx", "torch")),
    Backend("openvino", "openvino_backend", "openvino", ("openvino", "onnx", "torch")),
    Backend("tensorrt", "tensorrt_backend", "tensorrt", ("tensorrt", "onnx", "torch")),
)}
BACKEND_NAMES = (*BACKENDS, "auto")

# pip distributions that provide each package, for the error message when one is missing.
INSTALL_HINTS = {"onnxruntime": "onnxruntime (CPU) or onnxruntime-gpu", "openvino": "openvino",
                 "tensorrt": "tensorrt-cu12 (see requirements-gpu.txt)", "torch": "torch"}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(BACKEND_NAMES)}")
    return BACKENDS[name]


def require_package(package: str, purpose: str) -> ModuleType:
    """Import `package`, or raise BackendUnavailable naming what to install."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise BackendUnavailable(f"{purpose} needs the Python package {package!r}, which is not installed "
                                 f"here ({err}); install {INSTALL_HINTS.get(package, package)}") from None


def open_source(source: str | os.PathLike | nn.Module, kinds: tuple[str, ...], metadata: ModelMetadata | None = None,
                model: str | None = None, crop: int | None = None) -> ModelSource:
    """The model in `source` of the first kind in `kinds` it holds."""
    if isinstance(source, nn.Module):
        if "torch" not in kinds:
            raise ModelFormatError(f"this backend runs {' or '.join(kinds)} models, not an nn.Module")
        return from_module(source, metadata, model, crop)
    files = model_files(source)
    for kind in kinds:
        if kind in files:
            return open_file(files[kind], metadata, model, crop)
    held = ", ".join(f"{path.name} ({kind})" for kind, path in files.items())
    raise ModelFormatError(f"{Path(source)} holds {held}; this backend runs {' or '.join(kinds)} models")


def create_engine(source: str | os.PathLike | nn.Module, backend: str = "auto", device: str = "cpu",
                  num_threads: int | None = None, *, metadata: ModelMetadata | None = None, model: str | None = None,
                  crop: int | None = None, precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                  **options) -> InferenceEngine:
    """An engine for `source` on `backend`.

    source: an nn.Module (X3D describes itself; others need `metadata`), a weights file (.pth/.pyth/.pt,
        metadata from `<stem>.json` beside it or `model`), an exported file (.onnx, OpenVINO .xml, TensorRT
        .engine/.plan) or a directory holding them.
    backend: torch | torch-compile | onnxruntime | openvino | tensorrt | auto (time the available ones).
    device: "cpu", "cuda" or "cuda:N"; onnxruntime also takes "tensorrt[:N]" for its TensorRT provider.
    num_threads: CPU threads for inference (None: the runtime's default). torch's setting is process-wide.
    model: the X3D size; needed for weights without metadata, and checked against metadata otherwise.
    crop: run at this crop (torch models only; exported files keep the crop they were exported for).
    precision: fp32 | fp16 (fp16 where the backend and device support it).
    cache_dir: where derived files go (ONNX exports, TensorRT engines, auto's choices).
    options: backend settings: openvino performance_hint ("latency" | "throughput"); tensorrt max_batch,
        workspace_gb; auto candidates (backend names), trial_runs.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    settings = dict(device=device, num_threads=num_threads, precision=precision, cache_dir=cache_dir)
    if backend == "auto":
        from .auto import create_auto_engine

        return create_auto_engine(source, metadata=metadata, model=model, crop=crop, **settings, **options)
    spec = get_backend(backend)
    require_package(spec.package, f"backend {spec.name!r}")
    engine = spec.open(open_source(source, spec.inputs, metadata, model, crop), **settings, **options)
    log.info("%s", engine)
    return engine
