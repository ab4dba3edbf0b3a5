"""Latency of each backend on one model, measured back to back in one process, against eager PyTorch.

Per backend and batch size: warm-up runs, then the median of timed runs; the ratio to eager torch; achieved
GFLOP/s (2 x the multiply-adds that ar_core.models.profile counts at the benchmark's crop, per second) and the
fraction of this CPU's peak, measured as the GFLOP/s of a large fp32 matmul with the same thread count.
"""
from __future__ import annotations

import dataclasses
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models import build_model, get_spec, load_checkpoint
from ..models.metadata import ModelMetadata
from ..models.profile import profile_model
from .engine import InferenceEngine, create_engine

log = logging.getLogger(__name__)

REFERENCE = "torch"
INT8_SUFFIX = "-int8"  # onnxruntime-int8, openvino-int8: the ONNX model quantized by ar_core.runtime.quantize


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
    num_threads: int
    gmacs_per_clip: float
    peak_gflops_per_s: float
    random_weights: bool
    rows: list[BenchRow]

    def table(self) -> str:
        lines = [f"X3D-{self.model.upper()}, {self.frames}x{self.crop}x{self.crop} clips, {self.num_threads} threads, "
                 f"{self.gmacs_per_clip:.2f} GMACs/clip at this crop; fp32 matmul peak "
                 f"{self.peak_gflops_per_s:.0f} GFLOP/s",
                 "weights: random init (timing only; no checkpoint given)" if self.random_weights else "weights: given",
                 f"{'backend':<18}{'batch':>6}{'ms':>10}{'x eager':>9}{'GFLOP/s':>10}{'% peak':>8}"
                 f"{'max |dp|':>10}{'top-1 =':>9}"]
        for r in self.rows:
            lines.append(f"{r.backend:<18}{r.batch:>6}{r.latency_ms:>10.1f}{r.speedup:>9.2f}{r.gflops_per_s:>10.1f}"
                         f"{r.peak_fraction:>8.1%}{r.max_abs_diff:>10.2e}{r.top1_agreement:>9.0%}")
        return "\n".join(lines)


def median_latency_ms(engine: InferenceEngine, clips: np.ndarray, warmup: int = 3, runs: int = 10) -> float:
    for _ in range(warmup):
        engine.predict(clips)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        engine.predict(clips)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def matmul_peak_gflops(num_threads: int, size: int = 2048, runs: int = 5) -> float:
    """GFLOP/s of the best of `runs` fp32 (size x size) @ (size x size) products with `num_threads` threads."""
    torch.set_num_threads(num_threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = min(_timed(lambda: a @ b) for _ in range(runs))
    return 2 * size ** 3 / best / 1e9


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run_bench(model: str, backends: Sequence[str], batches: Sequence[int] = (1, 8), num_threads: int = 2,
              weights: str | None = None, crop: int | None = None, warmup: int = 3, runs: int = 10,
              cache_dir: str | None = None, seed: int = 0) -> BenchResult:
    """Time eager torch and each of `backends` on the same clips, one after another in this process."""
    spec = get_spec(model)
    torch.manual_seed(seed)
    net = build_model(spec.name).eval()
    if weights:
        load_checkpoint(net, weights)
    metadata = ModelMetadata.for_spec(spec, [f"class {i}" for i in range(net.num_classes)], crop)
    # profile_model counts at spec.train_crop; give it the benchmark's crop (FLOPs grow with the crop squared).
    gmacs = profile_model(net, dataclasses.replace(spec, train_crop=metadata.crop)).gflops
    peak = matmul_peak_gflops(num_threads)
    rng = np.random.default_rng(seed)
    clips = {b: rng.standard_normal((b, *metadata.input_shape)).astype(np.float32) for b in batches}
    names = [REFERENCE, *[b for b in backends if b != REFERENCE]]
    rows, reference = [], {}
    with tempfile.TemporaryDirectory(prefix="ar-core-bench-") as tmp:
        for name in names:
            engine = _open(name, net, metadata, num_threads, cache_dir, Path(tmp))
            try:
                for batch in batches:
                    latency = median_latency_ms(engine, clips[batch], warmup, runs)
                    probabilities = engine.predict(clips[batch])
                    reference.setdefault((batch, "ms"), latency)
                    reference.setdefault((batch, "p"), probabilities)
                    ref_p = reference[(batch, "p")]
                    achieved = 2 * gmacs * batch / (latency / 1000)
                    rows.append(BenchRow(name, batch, latency, reference[(batch, "ms")] / latency, achieved,
                                         achieved / peak, float(np.abs(probabilities - ref_p).max()),
                                         float((probabilities.argmax(1) == ref_p.argmax(1)).mean())))
                    log.info("%s batch %d: %.1f ms", name, batch, latency)
            finally:
                engine.close()
    return BenchResult(spec.name, metadata.crop, metadata.frames, num_threads, gmacs, peak, not weights, rows)


def _open(name: str, net: torch.nn.Module, metadata: ModelMetadata, num_threads: int, cache_dir: str | None,
          tmp: Path) -> InferenceEngine:
    if not name.endswith(INT8_SUFFIX):
        return create_engine(net, name, num_threads=num_threads, metadata=metadata, cache_dir=cache_dir)
    from ..data import SyntheticMotion
    from .calibration import CalibrationBatches
    from .export import export_onnx
    from .quantize import quantize_onnx

    fp32, int8 = tmp / "fp32.onnx", tmp / "int8.onnx"
    if not int8.is_file():
        export_onnx(net, metadata, fp32)
        clips = SyntheticMotion(32, frames=metadata.frames, size=metadata.crop, mean=metadata.mean, std=metadata.std)
        quantize_onnx(fp32, int8, CalibrationBatches(clips, batch_size=8, input_shape=metadata.input_shape))
    return create_engine(int8, name.removesuffix(INT8_SUFFIX), num_threads=num_threads, cache_dir=cache_dir)
