"""INT8 for the CPU: ONNX Runtime static quantization to a Q/DQ ONNX file, and how much it changes the answers.

The Q/DQ file runs on ONNX Runtime and on OpenVINO (which maps Q/DQ pairs to its own INT8 kernels), and it
is the input of `export_openvino(..., int8)`. Weights are quantized per output channel (int8, symmetric),
activations per tensor (uint8) from ranges seen on calibration clips.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .base import InferenceEngine
from .calibration import CalibrationBatches
from .embedded import set_onnx_metadata
from .sources import open_model

log = logging.getLogger(__name__)


def quantize_onnx(onnx_path: str | os.PathLike, out_path: str | os.PathLike, calibration: CalibrationBatches,
                  per_channel: bool = True) -> Path:
    """Write an INT8 (Q/DQ) copy of the ONNX model at `onnx_path` to `out_path`, atomically.

    Its metadata is the original's plus extra["quantization"] (method, calibration clip count).
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = open_model(onnx_path, kinds=("onnx",))
    if "quantization" in source.metadata.extra:
        raise ValueError(f"{onnx_path} is already quantized ({source.metadata.extra['quantization']})")

    class Reader(CalibrationDataReader):
        def __init__(self, input_name: str):
            self.input_name, self.batches = input_name, iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {self.input_name: batch}

    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="ar-core-quantize-") as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(source.path), str(prepared))  # shape inference and graph clean-up first
        reader = Reader(onnx.load(str(prepared), load_external_data=False).graph.input[0].name)
        quantize_static(str(prepared), str(quantized), reader, quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        proto = onnx.load(str(quantized))
    details = {"method": "onnxruntime static, QDQ", "per_channel": per_channel, "weights": "int8",
               "activations": "uint8", "calibration_clips": calibration.num_samples}
    set_onnx_metadata(proto, source.metadata.replace(extra={**source.metadata.extra, "quantization": details}))
    with atomic_path(out_path) as tmp_path:
        onnx.save(proto, str(tmp_path))
    log.info("quantized %s -> %s on %d calibration clips", onnx_path, out_path, calibration.num_samples)
    return out_path


@dataclass(frozen=True)
class QuantizationReport:
    samples: int
    top1_agreement: float  # fraction of clips whose top class is the same for both models
    max_abs_diff: float  # largest probability difference
    reference_accuracy: float | None  # top-1 accuracy on the labels, when the dataset has them
    quantized_accuracy: float | None

    def __str__(self) -> str:
        text = (f"{self.samples} clips: top-1 agreement with fp32 {self.top1_agreement:.1%}, "
                f"largest probability change {self.max_abs_diff:.4f}")
        if self.reference_accuracy is not None:
            text += (f"; accuracy fp32 {self.reference_accuracy:.1%} -> int8 {self.quantized_accuracy:.1%} "
                     f"({(self.quantized_accuracy - self.reference_accuracy) * 100:+.1f} points)")
        return text


def compare_engines(reference: InferenceEngine, quantized: InferenceEngine, dataset: Sequence,
                    batch_size: int = 8) -> QuantizationReport:
    """Run both engines on every clip of `dataset` (items: clip or (clip, label)) and compare the answers."""
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
    return QuantizationReport(len(ref_top), float((ref_top == int8_top).mean()), largest,
                              float((ref_top == labels).mean()) if has_labels else None,
                              float((int8_top == labels).mean()) if has_labels else None)
