"""Export an X3D model to OpenVINO IR and TensorRT engines, and what `ar-core export` does (fp16, int8).

Each file carries its ModelMetadata: in `rt_info` under `ar_core.metadata` (OpenVINO), or in `<stem>.json`
beside a TensorRT engine, so `create_engine(file)` needs nothing else. ONNX itself is onnx_export's.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..atomic import atomic_path
from ..models.metadata import ModelMetadata
from .base import BackendUnavailable, require_package
from .calibration import CalibrationBatches, open_clip_dataset
from .embedded import set_openvino_metadata
from .onnx_export import export_onnx
from .onnxruntime_backend import OnnxRuntimeEngine
from .quantize import QuantizationReport, compare_engines, quantize_onnx
from .sources import open_model
from .tensorrt_backend import STREAM_TENSORRT, build_serialized_engine

log = logging.getLogger(__name__)


def export_openvino(network_or_onnx: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
                    path: str | os.PathLike, fp16: bool = False) -> Path:
    """Write OpenVINO IR (`path` .xml + .bin) from a network or an ONNX file; metadata goes into rt_info.

    Weights stay fp32 unless `fp16` (OpenVINO's save_model would compress them to fp16 by default).
    """
    ov = require_package("openvino", "export to OpenVINO")
    path = Path(path)
    if path.suffix != ".xml":
        raise ValueError(f"OpenVINO IR is written as a .xml (with a .bin beside it), got {path}")
    with tempfile.TemporaryDirectory(dir=_parent(path), prefix=".export-") as tmp:
        onnx_path, metadata = _as_onnx(network_or_onnx, metadata, Path(tmp))
        ov_model = ov.convert_model(str(onnx_path))
        set_openvino_metadata(ov_model, metadata)
        staged = Path(tmp) / path.name
        ov.save_model(ov_model, str(staged), compress_to_fp16=fp16)
        # The .xml names no .bin: OpenVINO reads the .bin beside it, so the pair is renamed together, .xml last.
        os.replace(staged.with_suffix(".bin"), path.with_suffix(".bin"))
        os.replace(staged, path)
    log.info("exported OpenVINO IR %s (%s weights)", path, "fp16" if fp16 else "fp32")
    return path


def export_tensorrt(network_or_onnx: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
                    path: str | os.PathLike, fp16: bool = False, int8: bool = False, calibration=None,
                    max_batch: int = 8, workspace_gb: float = 2.0) -> Path:
    """Build a TensorRT engine at `path` (.engine or .plan) from a network or an ONNX file, with the metadata
    in `<stem>.json` beside it. INT8 needs `calibration` (a CalibrationBatches). Needs a CUDA GPU."""
    path = Path(path)
    if path.suffix not in (".engine", ".plan"):
        raise ValueError(f"a TensorRT engine is written as .engine or .plan, got {path}")
    precision = "int8" if int8 else "fp16" if fp16 else "fp32"
    with tempfile.TemporaryDirectory(dir=_parent(path), prefix=".export-") as tmp:
        onnx_path, metadata = _as_onnx(network_or_onnx, metadata, Path(tmp))
        plan = build_serialized_engine(onnx_path, precision, max_batch, calibration, workspace_gb)
    with atomic_path(path) as tmp_path:
        tmp_path.write_bytes(plan)
    metadata.replace(extra={**metadata.extra, "tensorrt": {"precision": precision, "max_batch": max_batch}}) \
        .write_json(path.with_suffix(".json"))
    log.info("exported TensorRT engine %s (%s, batch 1..%d)", path, precision, max_batch)
    return path


def _as_onnx(network_or_onnx: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
             folder: Path) -> tuple[Path, ModelMetadata]:
    """An ONNX file for `network_or_onnx` (exported into `folder` for a network) and the metadata to use."""
    if isinstance(network_or_onnx, nn.Module):
        if metadata is None:
            raise ValueError("exporting a network needs its metadata")
        return export_onnx(network_or_onnx, metadata, folder / "model.onnx"), metadata
    source = open_model(network_or_onnx, kinds=("onnx",), metadata=metadata)
    return source.path, source.metadata


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


@dataclass
class ExportResult:
    files: list[Path]
    quantization: QuantizationReport | None = None


FORMATS = ("onnx", "openvino", "tensorrt")


def export_checkpoint(weights: str | os.PathLike, fmt: str, out_dir: str | os.PathLike, model: str | None = None,
                      crop: int | None = None, fp16: bool = False, int8: bool = False, calib: str | None = None,
                      val: str | None = None, calib_clips: int = 64, constant_folding: bool = False,
                      inference: str = "clip", pool_frames: int | None = None) -> ExportResult:
    """What `ar-core export` does: a torch model the loader opens from `weights` (weights file, its .json, a
    run folder; `model` names the size where no metadata says it) -> files in `out_dir`, named x3d_<size>.

    INT8: onnx and openvino get a Q/DQ model quantized with ONNX Runtime on `calib` clips, tensorrt an engine
    calibrated on them; the report compares fp32 and int8 answers on `val` (default: the calibration clips).
    inference="stream": the continual step (models.streaming) with a `pool_frames` pool, named
    x3d_<size>-stream (onnx and openvino, fp32 or fp16 weights).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if inference == "stream" and (int8 or fmt == "tensorrt"):
        raise BackendUnavailable(f"stream export {'to tensorrt' if fmt == 'tensorrt' else 'with --int8'} is not "
                                 f"implemented: {STREAM_TENSORRT if fmt == 'tensorrt' else 'calibration runs clips'}")
    if int8 and not calib:
        raise ValueError("--int8 needs calibration clips (--calib DATASET)")
    if fp16 and (fmt == "onnx" or int8 and fmt == "openvino"):
        raise ValueError(f"--fp16 applies to openvino (fp32 or fp16 weights) and tensorrt exports, not {fmt}"
                         f"{' with --int8' if int8 else ''}")
    if fmt != "onnx":
        require_package(fmt, f"export to {fmt}")  # before the slow part
    source = open_model(weights, model, kinds=("torch",), crop=crop, inference=inference, pool_frames=pool_frames)
    out_dir, metadata = Path(out_dir), source.metadata
    stem = f"x3d_{metadata.model}" + ("-stream" if inference == "stream" else "") + \
        ("-int8" if int8 else "-fp16" if fp16 else "")
    calibration = None
    if int8:
        clips = open_clip_dataset(calib, metadata, limit=calib_clips)
        calibration = CalibrationBatches(clips, batch_size=min(8, len(clips)), input_shape=metadata.input_shape)
    with tempfile.TemporaryDirectory(dir=_parent(out_dir / stem), prefix=".export-") as tmp:
        onnx_path = export_onnx(source.module, metadata, Path(tmp) / "fp32.onnx",
                                do_constant_folding=constant_folding)
        if fmt == "tensorrt":
            path = export_tensorrt(onnx_path, None, out_dir / f"{stem}.engine", fp16, int8, calibration)
            return ExportResult([path, path.with_suffix(".json")])
        report = None
        if int8:
            fp32_path, onnx_path = onnx_path, quantize_onnx(onnx_path, Path(tmp) / "int8.onnx", calibration)
            report = _quantization_report(fp32_path, onnx_path, open_clip_dataset(val or calib, metadata))
        if fmt == "onnx":
            path = out_dir / f"{stem}.onnx"
            os.replace(onnx_path, path)  # same folder, so a rename: the finished file appears whole
            return ExportResult([path], report)
        path = export_openvino(onnx_path, None, out_dir / f"{stem}.xml", fp16=fp16)
        return ExportResult([path, path.with_suffix(".bin")], report)


def _quantization_report(fp32_onnx: Path, int8_onnx: Path, dataset) -> QuantizationReport:
    reference, quantized = open_model(fp32_onnx, kinds=("onnx",)), open_model(int8_onnx, kinds=("onnx",))
    with OnnxRuntimeEngine(fp32_onnx, reference.metadata) as fp32, \
            OnnxRuntimeEngine(int8_onnx, quantized.metadata) as q:
        return compare_engines(fp32, q, dataset)
