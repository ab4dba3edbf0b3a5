"""One inference interface over every runtime: `create_engine(weights_or_network, backend)` -> InferenceEngine.

    engine = create_engine("x3d_xs.pyth", backend="openvino", num_threads=2, model="xs")
    probabilities = engine.predict(clips)  # (N, 3, T, S, S) float32 -> (N, classes) float32
    engine.close()

    stream = create_engine("x3d_xs.pth", backend="openvino", inference="stream", pool_frames=16)
    states = stream.initial_state(batch=1)
    probabilities, states = stream.step(frames, states)  # (1, 3, S, S) -> (1, classes); discard the first
                                                         # stream.metadata.stream.warmup_frames

Backends (one module each): torch, torch-compile, onnxruntime, openvino, tensorrt, and auto, which times
the available ones on this model and keeps the fastest. See docs/runtimes.md.
"""
from __future__ import annotations

import os

from torch import nn

from ..models.metadata import ModelMetadata
from .auto import create_auto_engine
from .backends import open_backend
from .base import InferenceEngine

PRECISIONS = ("fp32", "fp16")


def create_engine(weights_or_network: str | os.PathLike | nn.Module, backend: str = "auto", device: str = "auto",
                  num_threads: int | None = None, *, metadata: ModelMetadata | None = None, model: str | None = None,
                  crop: int | None = None, precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                  inference: str | None = None, pool_frames: int | None = None, **options) -> InferenceEngine:
    """An engine for `weights_or_network` on `backend`.

    weights_or_network: an nn.Module (X3D describes itself; others need `metadata`), or anything the model
        loader opens (ar_core.runtime.sources.open_model): weights (.pth/.pyth/.pt), their .json, an export
        (.onnx, OpenVINO .xml, TensorRT .engine/.plan) or a folder holding them (save()'s newest version).
    backend: torch | torch-compile | onnxruntime | openvino | tensorrt | auto (time the available ones).
    device: "auto" (CUDA when present and the backend runs there, else the CPU), "cpu", "cuda" or "cuda:N";
        onnxruntime also takes "tensorrt[:N]" for its TensorRT provider.
    num_threads: CPU threads for inference (None or 0: the runtime's default). torch's setting is process-wide.
    model: the X3D size; picks a folder's x3d_<size> files, is needed for weights without metadata, and is
        checked against metadata otherwise.
    crop: run at this crop (torch models only; exported files keep the crop they were exported for).
    precision: fp32 | fp16 (fp16 where the backend and device support it).
    cache_dir: where derived files go (ONNX exports, TensorRT engines, auto's choices).
    inference: clip | stream (default: what the model is; weights and networks: clip). Stream: the engine
        steps one frame per stream (InferenceEngine.step) through the continual X3D of
        ar_core.models.streaming; an export must have been made for it (`ar-core export --inference stream`).
    pool_frames: the stream's final pool in frames (weights and networks; default the clip length). An
        export's pool is in its metadata; another value is an error.
    options: backend settings: openvino performance_hint ("latency" | "throughput"); tensorrt max_batch,
        workspace_gb; auto candidates (backend names), trial_runs.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
    settings = dict(device=device, num_threads=num_threads or None, metadata=metadata, model=model, crop=crop,
                    precision=precision, cache_dir=cache_dir, inference=inference, pool_frames=pool_frames)
    if backend == "auto":
        return create_auto_engine(weights_or_network, **settings, **options)
    return open_backend(weights_or_network, backend, **settings, **options)
