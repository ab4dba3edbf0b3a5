"""OpenVINO on the CPU, from IR (.xml) or ONNX.

fp32 pins INFERENCE_PRECISION_HINT to f32: on CPUs with AMX/AVX512-BF16 OpenVINO would otherwise run bf16
and the answers would drift from PyTorch's. fp16 lets OpenVINO use its CPU's low precision (bf16 or f16).
`performance_hint`: "latency" (one request at a time, all threads on it) or "throughput" (parallel streams).
INT8 models (Q/DQ ONNX from ar_core.runtime.quantize, or IR made from one) run as they are.
"""
from __future__ import annotations

import os

import numpy as np

from ..models.metadata import ModelMetadata
from .base import Clips, InferenceEngine, ModelFormatError
from .onnx_export import FRAME_NAME, OUTPUT_NAME, cached_onnx, state_input_names, state_output_names
from .sources import ModelSource

HINTS = ("latency", "throughput")


def compile_config(num_threads: int | None, precision: str, performance_hint: str) -> dict[str, object]:
    if performance_hint not in HINTS:
        raise ValueError(f"openvino performance_hint must be one of {', '.join(HINTS)}, got {performance_hint!r}")
    config: dict[str, object] = {"PERFORMANCE_HINT": performance_hint.upper()}
    if precision == "fp32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    if num_threads:
        config["INFERENCE_NUM_THREADS"] = num_threads
    return config


class OpenVinoEngine(InferenceEngine):
    backend = "openvino"

    def __init__(self, path: str | os.PathLike, metadata: ModelMetadata, num_threads: int | None = None,
                 precision: str = "fp32", performance_hint: str = "latency"):
        import openvino as ov

        super().__init__(metadata, "cpu")
        config = compile_config(num_threads, precision, performance_hint)
        try:
            self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        except RuntimeError as err:
            raise ModelFormatError(f"OpenVINO cannot compile {path}: {str(err).strip().splitlines()[0]}") from None
        self.request = self.compiled.create_infer_request()
        if metadata.inference == "stream":  # onnx_export's names, which the IR keeps
            count = len(metadata.stream.state_shapes)
            self.input_names = [FRAME_NAME, *state_input_names(count)]
            self.outputs = [self.compiled.output(name) for name in (OUTPUT_NAME, *state_output_names(count))]

    def _predict(self, clips: Clips) -> np.ndarray:
        clips = clips.detach().cpu().numpy() if hasattr(clips, "detach") else clips
        # share_inputs: no copy of the clips; the output is copied out of the request's buffer.
        return np.array(self.request.infer({0: np.ascontiguousarray(clips)}, share_inputs=True)[0])

    def _step(self, frames: Clips, states: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        inputs = {name: _numpy(x) for name, x in zip(self.input_names, (frames, *states))}
        results = self.request.infer(inputs, share_inputs=True)
        # Copied out: the request reuses its output buffers on the next step.
        probabilities, *new_states = (np.array(results[port]) for port in self.outputs)
        return probabilities, new_states

    def _release(self) -> None:
        self.request = self.compiled = self.outputs = None


def _numpy(array) -> np.ndarray:
    return np.ascontiguousarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array)


def open_engine(source: ModelSource, device: str = "cpu", num_threads: int | None = None, precision: str = "fp32",
                cache_dir=None, performance_hint: str = "latency") -> OpenVinoEngine:
    path = source.path if source.kind == "openvino" else cached_onnx(source, cache_dir)
    return OpenVinoEngine(path, source.metadata, num_threads, precision, performance_hint)
