"""ONNX Runtime, with the execution provider chosen by `device`:

    cpu           CPUExecutionProvider
    cuda[:N]      CUDAExecutionProvider (GPU N), then CPU
    tensorrt[:N]  TensorrtExecutionProvider (engines cached on disk), then CUDA, then CPU

A requested provider that this onnxruntime build lacks is dropped with a warning naming it; the engine's
`device` then says where it really runs.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from ..models.metadata import ModelMetadata
from .base import BackendUnavailable, Clips, InferenceEngine, ModelFormatError
from .cache import runtime_cache_dir
from .onnx_export import FRAME_NAME, OUTPUT_NAME, cached_onnx, state_input_names, state_output_names
from .sources import ModelSource

log = logging.getLogger(__name__)

CPU, CUDA, TENSORRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"
DEVICE_OF_PROVIDER = {CPU: "cpu", CUDA: "cuda", TENSORRT: "tensorrt"}


def choose_providers(device: str, available: list[str], precision: str = "fp32",
                     cache_dir: str | None = None) -> list[tuple[str, dict]]:
    """(provider, options) in order of preference for `device`, keeping only the `available` ones."""
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda", "tensorrt") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise ValueError(f"onnxruntime device must be cpu, cuda[:N] or tensorrt[:N], got {device!r}")
    gpu = {"device_id": int(index or 0)}
    if precision == "fp16" and kind != "tensorrt":
        raise BackendUnavailable(f"onnxruntime runs fp16 through its TensorRT provider only (device='tensorrt'), "
                                 f"not on {device!r}")
    wanted: list[tuple[str, dict]] = []
    if kind == "tensorrt":
        wanted.append((TENSORRT, {**gpu, "trt_fp16_enable": precision == "fp16", "trt_engine_cache_enable": True,
                                  "trt_engine_cache_path": str(cache_dir or ".")}))
    if kind in ("cuda", "tensorrt"):
        wanted.append((CUDA, gpu))
    wanted.append((CPU, {}))
    chosen = [(name, options) for name, options in wanted if name in available]
    if not chosen:
        raise BackendUnavailable(f"onnxruntime has none of {', '.join(n for n, _ in wanted)}")
    for position, (name, _) in enumerate(wanted):
        if name not in available:
            fallback = next((n for n, _ in wanted[position:] if n in available), chosen[0][0])
            log.warning("onnxruntime: %s is not available in this build (available: %s); falling back to %s",
                        name, ", ".join(available), fallback)
    return chosen


class OnnxRuntimeEngine(InferenceEngine):
    backend = "onnxruntime"

    def __init__(self, path: str | os.PathLike, metadata: ModelMetadata, device: str = "cpu",
                 num_threads: int | None = None, precision: str = "fp32", cache_dir: str | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if num_threads:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        providers = choose_providers(device, ort.get_available_providers(), precision, cache_dir)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for unreadable models
            raise ModelFormatError(f"onnxruntime cannot load {path}: {err}") from None
        actual = self.session.get_providers()[0]
        if actual != providers[0][0]:
            log.warning("onnxruntime: %s failed to start; running on %s", providers[0][0], actual)
        index = device.partition(":")[2]
        super().__init__(metadata, DEVICE_OF_PROVIDER.get(actual, actual) + (f":{index}" if index and actual != CPU
                                                                               else ""))
        self.input_name = self.session.get_inputs()[0].name
        if metadata.inference == "stream":  # onnx_export's names
            count = len(metadata.stream.state_shapes)
            self.step_inputs = [FRAME_NAME, *state_input_names(count)]
            self.step_outputs = [OUTPUT_NAME, *state_output_names(count)]

    def _predict(self, clips: Clips) -> np.ndarray:
        clips = clips.detach().cpu().numpy() if hasattr(clips, "detach") else clips
        return self.session.run(None, {self.input_name: np.ascontiguousarray(clips)})[0]

    def _step(self, frames: Clips, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        inputs = {name: _numpy(x) for name, x in zip(self.step_inputs, (frames, *states))}
        probabilities, *new_states = self.session.run(self.step_outputs, inputs)
        return probabilities, new_states

    def _release(self) -> None:
        self.session = None  # the session frees its (GPU) memory when released


def _numpy(array) -> np.ndarray:
    return np.ascontiguousarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array)


def open_engine(source: ModelSource, device: str = "cpu", num_threads: int | None = None, precision: str = "fp32",
                cache_dir=None) -> OnnxRuntimeEngine:
    trt_cache = runtime_cache_dir(cache_dir) / "onnxruntime-trt"
    if device.startswith("tensorrt"):
        trt_cache.mkdir(parents=True, exist_ok=True)
    return OnnxRuntimeEngine(cached_onnx(source, cache_dir), source.metadata, device, num_threads, precision,
                             str(trt_cache))
