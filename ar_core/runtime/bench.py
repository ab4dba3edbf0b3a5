"""Latency of each backend on one model, measured back to back in one process, against eager PyTorch.

Per backend and batch size: warm-up runs, then the median of timed runs; the ratio to eager torch; achieved
GFLOP/s (2 x the multiply-adds that ar_core.models.profile counts at the benchmark's crop, per second) and the
fraction of this CPU's peak, measured as the GFLOP/s of a large fp32 matmul with the same thread count.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import SyntheticMotion
from ..models import build_model, get_spec
from ..models.metadata import ModelMetadata
from ..models.profile import profile_model
from .backends import BACKENDS
from .base import InferenceEngine
from .calibration import CalibrationBatches
from .export import quantize_file
from .factory import create_engine
from .onnx_export import export_onnx
from .sources import open_model
from .timing import timed

log = logging.getLogger(__name__)

REFERENCE = "torch"
ROUNDS = 3
SETTLE_S = 0.2
# Benchmark-only names: <backend>-int8 runs the ONNX model quantized by NNCF (export.quantize_file, Q/DQ),
# <backend>-fp16 runs create_engine(..., precision="fp16") (OpenVINO: the CPU's bf16/f16; TensorRT: fp16).
VARIANTS = {"int8": ("onnxruntime", "openvino"), "fp16": ("openvino", "tensorrt")}


@dataclass(frozen=True)
class BenchRow:
    backend: str
    batch: int
    latency_ms: float  # median of the timed runs
    speedup: float  # eager torch latency / this latency, same batch
    gflops_per_s: float
    peak_fraction: float
    max_abs_diff: float  # largest probability difference from eager torch on the same clips
    top1_agreement: float  # fraction of clips with the same top class as eager torch


@dataclass(frozen=True)
class BenchResult:
    model: str
    crop: int
    frames: int
    num_threads: int  # 0: each runtime's default
    gmacs_per_clip: float
    peak_gflops_per_s: float
    random_weights: bool
    rows: list[BenchRow]

    def table(self) -> str:
        threads = f"{self.num_threads} threads" if self.num_threads else "default threads"
        lines = [f"{get_spec(self.model).title}, {self.frames}x{self.crop}x{self.crop} clips, {threads}, "
                 f"{self.gmacs_per_clip:.2f} GMACs/clip at this crop; fp32 matmul peak "
                 f"{self.peak_gflops_per_s:.0f} GFLOP/s",
                 "weights: random init (timing only; no checkpoint given)" if self.random_weights else "weights: given",
                 f"{'backend':<18}{'batch':>6}{'ms':>10}{'x eager':>9}{'GFLOP/s':>10}{'% peak':>8}"
                 f"{'max |dp|':>10}{'top-1 =':>9}"]
        for r in self.rows:
            # With random weights the outputs are near-uniform, so top-1 agreement would be noise.
            top1 = "n/a" if self.random_weights else f"{r.top1_agreement:.0%}"
            lines.append(f"{r.backend:<18}{r.batch:>6}{r.latency_ms:>10.1f}{r.speedup:>9.2f}{r.gflops_per_s:>10.1f}"
                         f"{r.peak_fraction:>8.1%}{r.max_abs_diff:>10.2e}{top1:>9}")
        return "\n".join(lines)


def matmul_peak_gflops(num_threads: int, size: int = 2048, runs: int = 5) -> float:
    """GFLOP/s of the best of `runs` fp32 (size x size) @ (size x size) products with `num_threads` threads
    (0: torch's current setting)."""
    if num_threads:
        torch.set_num_threads(num_threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = min(timed(lambda: a @ b) for _ in range(runs))
    return 2 * size ** 3 / best / 1e9


def run_bench(model: str, backends: Sequence[str], batch_sizes: Sequence[int] = (1, 8), num_threads: int = 2,
              weights: str | os.PathLike | None = None, crop: int | None = None, warmup: int = 3, runs: int = 10,
              cache_dir: str | None = None, seed: int = 0) -> BenchResult:
    """Time eager torch and each of `backends` on the same clips in this process.

    weights: anything the model loader opens that holds a torch model (default: random init, fine for timing).
    num_threads: CPU threads for every backend (0: each runtime's default).
    The timed runs come in ROUNDS blocks per backend, the backends taking turns, so a change of load on a
    shared machine hits all of them alike and the ratios stay fair.
    """
    spec = get_spec(model)
    names = [REFERENCE, *dict.fromkeys(b for b in backends if b != REFERENCE)]
    for name in names:
        _variant(name)  # refuse unknown names before the slow part
    if weights:
        source = open_model(weights, spec.name, kinds=("torch",), crop=crop)
        network, metadata = source.module, source.metadata
    else:
        torch.manual_seed(seed)
        network = build_model(spec.name).eval()
        metadata = ModelMetadata.for_spec(spec, [f"class {i}" for i in range(network.num_classes)], crop)
    # profile_model counts at spec.train_crop; give it the benchmark's crop (FLOPs grow with the crop squared).
    gmacs = profile_model(network, dataclasses.replace(spec, train_crop=metadata.crop)).gflops
    peak = matmul_peak_gflops(num_threads)
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ar-core-bench-") as tmp:
        engines: dict[str, InferenceEngine] = {}
        try:
            for name in names:
                engines[name] = _open(name, network, metadata, num_threads, cache_dir, Path(tmp))
            for batch_size in batch_sizes:
                clips = rng.standard_normal((batch_size, *metadata.input_shape)).astype(np.float32)
                rows += _measure(engines, clips, gmacs, peak, warmup, runs)
        finally:
            for engine in engines.values():
                engine.close()
    return BenchResult(spec.name, metadata.crop, metadata.frames, num_threads, gmacs, peak, not weights, rows)


def _measure(engines: dict[str, InferenceEngine], clips: np.ndarray, gmacs: float, peak: float, warmup: int,
             runs: int) -> list[BenchRow]:
    outputs = {}
    for name, engine in engines.items():
        for _ in range(warmup):
            outputs[name] = engine.predict(clips)
    times: dict[str, list[float]] = {name: [] for name in engines}
    per_block = -(-runs // ROUNDS)
    for _ in range(ROUNDS):
        for name, engine in engines.items():
            time.sleep(SETTLE_S)  # let the previous backend's worker threads stop spinning
            engine.predict(clips)  # untimed: caches and thread pools of this backend warm again
            times[name] += [timed(lambda: engine.predict(clips)) for _ in range(per_block)]
    reference_ms = statistics.median(times[REFERENCE]) * 1000
    reference = outputs[REFERENCE]
    rows = []
    for name in engines:
        latency = statistics.median(times[name]) * 1000
        achieved = 2 * gmacs * len(clips) / (latency / 1000)
        rows.append(BenchRow(name, len(clips), latency, reference_ms / latency, achieved, achieved / peak,
                             float(np.abs(outputs[name] - reference).max()),
                             float((outputs[name].argmax(1) == reference.argmax(1)).mean())))
        log.info("%s batch %d: %.1f ms", name, len(clips), latency)
    return rows


def _variant(name: str) -> tuple[str, str]:
    """'openvino-int8' -> ('openvino', 'int8'); refuses names the benchmark does not know."""
    for variant in VARIANTS:
        backend = name.removesuffix(f"-{variant}")
        if backend != name and backend in VARIANTS[variant]:
            return backend, variant
    if name in BACKENDS:
        return name, "fp32"
    valid = [*BACKENDS, *(f"{b}-{v}" for v, backends in VARIANTS.items() for b in backends)]
    raise ValueError(f"unknown benchmark backend {name!r}; valid: {', '.join(valid)}")


def _open(name: str, network: torch.nn.Module, metadata: ModelMetadata, num_threads: int, cache_dir: str | None,
          tmp: Path) -> InferenceEngine:
    backend, variant = _variant(name)
    if variant != "int8":
        return create_engine(network, backend, num_threads=num_threads, metadata=metadata, cache_dir=cache_dir,
                             precision=variant, device="cuda" if backend == "tensorrt" else "cpu")
    fp32, int8 = tmp / "fp32.onnx", tmp / "int8.onnx"
    if not int8.is_file():
        export_onnx(network, metadata, fp32)
        clips = SyntheticMotion(32, frames=metadata.frames, size=metadata.crop, mean=metadata.mean, std=metadata.std)
        quantize_file(fp32, int8, CalibrationBatches(clips, batch_size=1, input_shape=metadata.input_shape))
    return create_engine(int8, backend, num_threads=num_threads, cache_dir=cache_dir)
