"""The backends by name, and opening one: `open_backend(weights_or_network, "openvino", ...)` -> InferenceEngine.

Each backend module has `open_engine(source: ModelSource, device, num_threads, precision, cache_dir, **options)`;
this module checks the package and the device first, so those functions get a device that exists.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ..devices import resolve_device
from ..models.metadata import ModelMetadata
from . import onnxruntime_backend, openvino_backend, tensorrt_backend, torch_backend
from .base import InferenceEngine, ModelFormatError, require_package
from .sources import ModelSource, open_model, open_network

log = logging.getLogger(__name__)

DEVICE_NAMES = {"cpu": "cpu", "cuda": "cuda[:N]", "tensorrt": "tensorrt[:N]"}


@dataclass(frozen=True)
class Backend:
    name: str
    open_engine: Callable[..., InferenceEngine]  # (source, device, num_threads, precision, cache_dir, **options)
    package: str  # the Python package it needs
    inputs: tuple[str, ...]  # model kinds it runs, preferred first; torch weights are exported to ONNX first
    devices: tuple[str, ...]  # device kinds it runs on; "tensorrt" is onnxruntime's TensorRT provider
    preset: dict = field(default_factory=dict)  # fixed options for open_engine


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("torch", torch_backend.open_engine, "torch", ("torch",), ("cpu", "cuda")),
    Backend("torch-compile", torch_backend.open_engine, "torch", ("torch",), ("cpu", "cuda"), {"compile": True}),
    Backend("onnxruntime", onnxruntime_backend.open_engine, "onnxruntime", ("onnx", "torch"),
            ("cpu", "cuda", "tensorrt")),
    Backend("openvino", openvino_backend.open_engine, "openvino", ("openvino", "onnx", "torch"), ("cpu",)),
    Backend("tensorrt", tensorrt_backend.open_engine, "tensorrt", ("tensorrt", "onnx", "torch"), ("cuda",)),
)}
BACKEND_NAMES = (*BACKENDS, "auto")


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; valid backends: {', '.join(BACKEND_NAMES)}")
    return BACKENDS[name]


def backend_device(backend: Backend, device: str) -> str:
    """Where `backend` runs for `device`: "auto" is CUDA when present and the backend runs there, else the CPU;
    an explicit device must be one the backend runs on and this machine has."""
    if device == "auto":
        device = resolve_device("auto")
        device = device if device in backend.devices else backend.devices[0]
    kind = device.partition(":")[0]
    if kind not in backend.devices:
        runs_on = " or ".join(DEVICE_NAMES[d] for d in backend.devices)
        raise ValueError(f"the {backend.name} backend runs on {runs_on}, got device {device!r}")
    return device if kind == "tensorrt" else resolve_device(device)  # onnxruntime checks its TensorRT provider


def open_source(weights_or_network: str | os.PathLike | nn.Module, kinds: tuple[str, ...],
                metadata: ModelMetadata | None = None, model: str | None = None,
                crop: int | None = None, inference: str | None = None, pool_frames: int | None = None) -> ModelSource:
    """The model of the first of `kinds` that `weights_or_network` holds (a network is of kind torch)."""
    if not isinstance(weights_or_network, nn.Module):
        return open_model(weights_or_network, model, kinds=kinds, metadata=metadata, crop=crop, inference=inference,
                          pool_frames=pool_frames)
    if "torch" not in kinds:
        raise ModelFormatError(f"this backend runs {' or '.join(kinds)} models, not an nn.Module")
    return open_network(weights_or_network, metadata, model, crop, inference, pool_frames)


def open_backend(weights_or_network: str | os.PathLike | nn.Module, name: str, device: str = "auto",
                 num_threads: int | None = None, *, metadata: ModelMetadata | None = None, model: str | None = None,
                 crop: int | None = None, precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                 inference: str | None = None, pool_frames: int | None = None, **options) -> InferenceEngine:
    """An engine of the backend called `name` (not "auto"); create_engine's arguments."""
    backend = get_backend(name)
    require_package(backend.package, f"backend {backend.name!r}")
    device = backend_device(backend, device)
    source = open_source(weights_or_network, backend.inputs, metadata, model, crop, inference, pool_frames)
    engine = backend.open_engine(source, device=device, num_threads=num_threads, precision=precision,
                                 cache_dir=cache_dir, **{**options, **backend.preset})
    engine.weights = source.path
    log.info("%s", engine)
    return engine
