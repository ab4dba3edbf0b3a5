"""OpenVINO on the CPU, from IR (.xml) or ONNX.

fp32 pins INFERENCE_PRECISION_HINT to f32: on CPUs with AMX/AVX512-BF16 OpenVINO would otherwise run bf16
and the answers would drift from PyTorch's. fp16 lets OpenVINO use its CPU's low precision (bf16 or f16).
`performance_hint`: "latency" (one request at a time, all threads on it) or "throughput" (parallel streams).
INT8 models (Q/DQ ONNX from ar_core.runtime.quantize, or IR made from one) run as they are.

Stream models run stateful: every state_in_k/state_out_k pair of the exported step becomes an OpenVINO variable
(openvino.passes.MakeStateful) and each stream gets its own infer request, whose variables hold its states
between steps in the plugin's own layout. Passing the 55 states of X3D-S through the API instead cost 2.4x the
step's time, in layout reorders and copies (docs/streaming.md).
"""
from __future__ import annotations

import os

import numpy as np

from ..models.metadata import ModelMetadata
from .base import Clips, InferenceEngine, ModelFormatError, ResidentStates, States
from .onnx_export import FRAME_NAME, cached_onnx, state_input_names, state_output_names
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
        core = ov.Core()
        try:
            model = str(path) if metadata.inference == "clip" else _stateful_step(core.read_model(str(path)))
            self.compiled = core.compile_model(model, "CPU", config)
        except RuntimeError as err:
            raise ModelFormatError(f"OpenVINO cannot compile {path}: {str(err).strip().splitlines()[0]}") from None
        self.request = self.compiled.create_infer_request()  # clips; a stream model's streams have their own
        if metadata.inference == "stream":
            # MakeStateful names each variable after its pair; map them to the metadata's state order.
            pairs = zip(state_input_names(len(metadata.stream.state_shapes)),
                        state_output_names(len(metadata.stream.state_shapes)))
            self.variable_index = {state_in + state_out: k for k, (state_in, state_out) in enumerate(pairs)}
            names = {state.name for state in self.request.query_state()}
            if names != set(self.variable_index):
                raise ModelFormatError(f"{path}: the stream step's states are not the state_in_k/state_out_k "
                                       f"pairs its metadata lists")

    def _predict(self, clips: Clips) -> np.ndarray:
        clips = clips.detach().cpu().numpy() if hasattr(clips, "detach") else clips
        # share_inputs: no copy of the clips; the output is copied out of the request's buffer.
        return np.array(self.request.infer({0: np.ascontiguousarray(clips)}, share_inputs=True)[0])

    def _initial_state(self, batch: int) -> "OpenVinoStreams":
        return OpenVinoStreams(self, [self.compiled.create_infer_request() for _ in range(batch)])

    def _step(self, frames: Clips, states: States) -> tuple[np.ndarray, "OpenVinoStreams"]:
        if not isinstance(states, OpenVinoStreams):  # arrays, e.g. from another backend: load them
            states = OpenVinoStreams.from_arrays(self, states)
        frames = _numpy(frames)
        requests = states.requests
        if len(requests) == 1:
            requests[0].infer({FRAME_NAME: frames}, share_inputs=True)
        else:  # streams side by side on the plugin's threads
            for b, request in enumerate(requests):
                request.start_async({FRAME_NAME: frames[b:b + 1]}, share_inputs=True)
            for request in requests:
                request.wait()
        # Copied out: a request reuses its output buffer on the next step.
        return np.concatenate([np.array(request.get_output_tensor(0).data) for request in requests]), states

    def _release(self) -> None:
        self.request = self.compiled = None


class OpenVinoStreams(ResidentStates):
    """B streams on an OpenVinoEngine: one infer request each, its variables holding the stream's states
    (zeros when created: the warm-up policy of models.streaming)."""

    def __init__(self, engine: OpenVinoEngine, requests: list):
        super().__init__(engine, len(requests))
        self.requests = requests

    @classmethod
    def from_arrays(cls, engine: OpenVinoEngine, arrays: list[np.ndarray]) -> "OpenVinoStreams":
        import openvino as ov

        streams = engine.initial_state(len(arrays[0]))
        for b, request in enumerate(streams.requests):
            for variable in request.query_state():
                variable.state = ov.Tensor(np.ascontiguousarray(arrays[engine.variable_index[variable.name]][b:b + 1]))
        return streams

    def arrays(self) -> list[np.ndarray]:
        index = self.engine.variable_index
        per_stream = [{index[v.name]: np.array(v.state.data) for v in request.query_state()}
                      for request in self.requests]
        return [np.concatenate([stream[k] for stream in per_stream]) for k in range(len(index))]


def _stateful_step(model):
    """The exported step with batch 1 and its state pairs made variables (one request is one stream)."""
    from openvino import passes

    model.reshape({port.get_any_name(): [1, *list(port.get_partial_shape())[1:]] for port in model.inputs})
    count = len(model.inputs) - 1
    manager = passes.Manager()
    manager.register_pass(passes.MakeStateful(dict(zip(state_input_names(count), state_output_names(count)))))
    manager.run_passes(model)
    return model


def _numpy(array) -> np.ndarray:
    return np.ascontiguousarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array)


def open_engine(source: ModelSource, device: str = "cpu", num_threads: int | None = None, precision: str = "fp32",
                cache_dir=None, performance_hint: str = "latency") -> OpenVinoEngine:
    path = source.path if source.kind == "openvino" else cached_onnx(source, cache_dir)
    return OpenVinoEngine(path, source.metadata, num_threads, precision, performance_hint)
