"""PyTorch: eager under inference_mode, or torch.compile (inductor with `freezing`, weights folded as constants).

On CUDA only: channels-last memory, fp16 autocast (precision="fp16") and CUDA graphs (a captured graph per
batch size for eager; mode="reduce-overhead" for compile).
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..models.metadata import ModelMetadata
from .base import BackendUnavailable, Clips, InferenceEngine
from .sources import ModelSource

log = logging.getLogger(__name__)


class TorchEngine(InferenceEngine):
    def __init__(self, network: nn.Module, metadata: ModelMetadata, device: str = "cpu",
                 num_threads: int | None = None, compile: bool = False, precision: str = "fp32"):
        target = torch.device(device)
        if precision == "fp16" and target.type != "cuda":
            raise BackendUnavailable("torch runs fp16 on CUDA only; use precision='fp32' on the CPU")
        super().__init__(metadata, str(target))
        self.backend = "torch-compile" if compile else "torch"
        if num_threads:
            torch.set_num_threads(num_threads)
        # A copy, so the caller's network keeps its mode, device and memory format.
        self.network = copy.deepcopy(network).eval().to(target)
        self.autocast = precision == "fp16"
        if target.type == "cuda":
            self.network = self.network.to(memory_format=torch.channels_last_3d)
        self.forward: Callable[..., torch.Tensor] = self.network
        if compile:
            mode = "reduce-overhead" if target.type == "cuda" else None  # reduce-overhead = CUDA graphs
            self.forward = torch.compile(self.network, mode=mode, dynamic=False, options={"freezing": True})
        elif target.type == "cuda" and metadata.inference == "clip":  # CudaGraphs replays one-input functions
            self.forward = CudaGraphs(self.network)

    def _predict(self, clips: Clips) -> np.ndarray:
        clips = torch.as_tensor(clips).to(self.device, non_blocking=True)
        if clips.is_cuda:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=self.autocast):
            return self.forward(clips).float().cpu().numpy()

    def _step(self, frames: Clips, states: list) -> tuple[np.ndarray, list[np.ndarray]]:
        # Numpy in and out: on the CPU as_tensor and .numpy() share memory, so a step copies nothing.
        inputs = [torch.as_tensor(x).to(self.device, non_blocking=True) for x in (frames, *states)]
        with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=self.autocast):
            probabilities, *new_states = self.forward(*inputs)
        return probabilities.float().cpu().numpy(), [state.float().cpu().numpy() for state in new_states]

    def _release(self) -> None:
        self.network = self.forward = None
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()


class CudaGraphs:
    """Replays `function` from a CUDA graph captured once per input shape (static input and output buffers)."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], warmup_runs: int = 3):
        self.function, self.warmup_runs = function, warmup_runs
        self.graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        key = (tuple(clips.shape), clips.dtype, torch.is_autocast_enabled("cuda"))
        if key not in self.graphs:
            self.graphs[key] = self._capture(clips)
        graph, static_in, static_out = self.graphs[key]
        static_in.copy_(clips)
        graph.replay()
        return static_out.clone()

    def _capture(self, clips: torch.Tensor):
        static_in = clips.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream, as capture requires
            for _ in range(self.warmup_runs):
                self.function(static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.function(static_in)
        return graph, static_in, static_out


def open_engine(source: ModelSource, device: str = "cpu", num_threads: int | None = None, precision: str = "fp32",
                cache_dir=None, compile: bool = False) -> TorchEngine:
    return TorchEngine(source.module, source.metadata, device, num_threads, compile, precision)
