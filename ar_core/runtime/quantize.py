"""INT8 for the CPU: NNCF post-training quantization of an exported model, and how much it changes the answers.

One method for every INT8 file (as OTX does it): an ONNX model becomes a Q/DQ ONNX model (runs on ONNX Runtime
and OpenVINO), an OpenVINO model an IR with FakeQuantize nodes (OpenVINO's INT8 kernels). NNCF's MinMax
ranges per tensor for activations, per output channel for weights (int8, symmetric), then fast bias
correction, from clips of the training data. Files are export's business; this module works on models in
memory and measures the change.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .base import InferenceEngine, require_package
from .calibration import CalibrationBatches
from .timing import median_latency_ms

log = logging.getLogger(__name__)

PRESETS = ("performance", "mixed")  # NNCF: symmetric activations | asymmetric (for activations far from 0)


def quantize_model(model: Any, calibration: CalibrationBatches, preset: str = "performance") -> Any:
    """An INT8 copy of `model` (an onnx.ModelProto or an openvino.Model), calibrated on `calibration`.

    NNCF wants one clip per calibration item (its statistics assume batch 1), so `calibration` must be batches
    of one clip.
    """
    nncf = require_package("nncf", "INT8 quantization")
    if preset not in PRESETS:
        raise ValueError(f"unknown quantization preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    if calibration.batch_size != 1:
        raise ValueError(f"NNCF calibrates on one clip at a time, got batches of {calibration.batch_size}")
    if hasattr(model, "graph"):  # onnx.ModelProto: NNCF runs it on ONNX Runtime, which takes {input: array}
        name = model.graph.input[0].name
        dataset = nncf.Dataset(calibration, lambda batch: {name: batch})
    else:
        dataset = nncf.Dataset(calibration)
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: stdout is the commands' answer (paths)
        return nncf.quantize(model, dataset, subset_size=len(calibration), preset=nncf.QuantizationPreset(preset))


def quantization_details(calibration: CalibrationBatches, preset: str) -> dict[str, Any]:
    """What an INT8 file records in its metadata's extra["quantization"]."""
    nncf = require_package("nncf", "INT8 quantization")
    return {"method": f"nncf {nncf.__version__} post-training (MinMax, fast bias correction)", "preset": preset,
            "weights": "int8 per output channel", "calibration_clips": calibration.num_samples}


@dataclass(frozen=True)
class QuantizationReport:
    samples: int
    top1_agreement: float  # fraction of clips whose top class is the same for both models
    max_abs_diff: float  # largest probability difference
    reference_accuracy: float | None  # top-1 accuracy on the labels, when the dataset has them
    quantized_accuracy: float | None
    reference_ms: float | None = None  # median latency of one clip (batch 1), when measured
    quantized_ms: float | None = None

    def __str__(self) -> str:
        text = (f"{self.samples} clips: top-1 agreement with fp32 {self.top1_agreement:.1%}, "
                f"largest probability change {self.max_abs_diff:.4f}")
        if self.reference_accuracy is not None:
            text += (f"; accuracy fp32 {self.reference_accuracy:.1%} -> int8 {self.quantized_accuracy:.1%} "
                     f"({(self.quantized_accuracy - self.reference_accuracy) * 100:+.1f} points)")
        if self.reference_ms is not None:
            text += f"; latency per clip fp32 {self.reference_ms:.1f} ms -> int8 {self.quantized_ms:.1f} ms"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_engines(reference: InferenceEngine, quantized: InferenceEngine, dataset: Sequence,
                    batch_size: int = 8, latency_runs: int = 0) -> QuantizationReport:
    """Run both engines on every clip of `dataset` (items: clip or (clip, label)) and compare the answers;
    with `latency_runs`, also time one clip (batch 1, median of that many runs) on each."""
    if len(dataset) < 1:
        raise ValueError("comparing engines needs at least one clip")
    ref_top, int8_top, labels, largest = [], [], [], 0.0
    for start in range(0, len(dataset), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        clips = np.stack([np.asarray(item[0] if isinstance(item, tuple) else item, np.float32) for item in items])
        labels += [item[1] for item in items if isinstance(item, tuple)]
        ref, q = reference.predict(clips), quantized.predict(clips)
        ref_top += list(ref.argmax(1))
        int8_top += list(q.argmax(1))
        largest = max(largest, float(np.abs(ref - q).max()))
    ref_top, int8_top = np.array(ref_top), np.array(int8_top)
    has_labels = len(labels) == len(ref_top)
    labels = np.array(labels)
    latency: tuple[float | None, float | None] = (None, None)
    if latency_runs:
        latency = tuple(median_latency_ms(engine, clips[:1], runs=latency_runs) for engine in (reference, quantized))
    return QuantizationReport(len(ref_top), float((ref_top == int8_top).mean()), largest,
                              float((ref_top == labels).mean()) if has_labels else None,
                              float((int8_top == labels).mean()) if has_labels else None, *latency)
