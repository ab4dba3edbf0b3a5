"""Export an X3D model to ONNX, OpenVINO IR and TensorRT engines; each file carries its ModelMetadata.

ONNX interface (every export):
    input  `clips`          float32 (N, 3, T, S, S): RGB normalised with the metadata's mean/std
    output `probabilities`  float32 (N, C): softmax class probabilities (the model is exported in eval mode)
N is dynamic (`batch_dynamic=True`) or 1; T and S are fixed to the metadata's frames and crop.
The metadata's JSON sits in `metadata_props` (ONNX) or `rt_info` (OpenVINO) under `ar_core.metadata`, and
in `<stem>.json` beside a TensorRT engine, so `create_engine(file)` needs nothing else.
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..models.metadata import ModelMetadata
from .embedded import set_onnx_metadata, set_openvino_metadata
from .engine import require_package
from .quantize import QuantizationReport, compare_engines
from .sources import ModelSource, open_file

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "clips", "probabilities"
# The exporter writes opset 18 and converts to others on request; down to 17 it fails on X3D's graph
# (measured with torch 2.13: it logs the failure and keeps 18), so 18 is also the lowest offered.
MIN_OPSET = DEFAULT_OPSET = 18


def export_onnx(model: nn.Module, metadata: ModelMetadata, path: str | os.PathLike, batch_dynamic: bool = True,
                opset: int = DEFAULT_OPSET, do_constant_folding: bool = False) -> Path:
    """Write `model` (in eval mode: it outputs probabilities) as ONNX at `path`, atomically.

    Uses torch.export-based exporter with its graph optimizer, which folds BatchNorm into the convolutions.
    `do_constant_folding` is handed to torch.onnx.export, whose current exporter always folds constants (the
    flag is deprecated there), so both values give the same graph.
    """
    import onnx

    if opset < MIN_OPSET:
        raise ValueError(f"opset must be {MIN_OPSET} or higher, got {opset}")
    path = Path(path)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # Batch 2, not 1: torch.export specialises dimensions of size 1 to constants.
    example = torch.zeros((2 if batch_dynamic else 1, *metadata.input_shape), device=device)
    dynamic = {INPUT_NAME: {0: torch.export.Dim("batch", min=1)}} if batch_dynamic else None
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), _quiet("onnxscript", "onnx_ir", "torch.onnx"):
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter
            program = torch.onnx.export(model, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                        opset_version=opset, dynamo=True, optimize=True, dynamic_shapes=dynamic,
                                        do_constant_folding=do_constant_folding, verbose=False)
    finally:
        model.train(was_training)
    proto = program.model_proto
    written = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if written != opset:
        raise ValueError(f"torch.onnx.export could not convert the graph to opset {opset} (it wrote {written})")
    proto.doc_string = f"X3D-{metadata.model.upper()} activity recognition exported by ar_core"
    set_onnx_metadata(proto, metadata)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    log.info("exported ONNX %s (opset %d, batch %s)", path, opset, "dynamic" if batch_dynamic else "1")
    return path


def cached_onnx(source: ModelSource, cache_dir: str | os.PathLike | None = None) -> Path:
    """The ONNX file for a torch source: exported once into the runtime cache, keyed by weights + metadata."""
    from .cache import runtime_cache_dir

    if source.kind == "onnx":
        return source.path
    if source.kind != "torch":
        raise ValueError(f"{source.name} holds a model of kind {source.kind!r}; it cannot be converted to ONNX")
    path = runtime_cache_dir(cache_dir) / "onnx" / f"{source.digest}.onnx"
    if not path.is_file():
        export_onnx(source.module, source.metadata, path)
    return path


def export_openvino(model: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
                    path: str | os.PathLike, fp16: bool = False) -> Path:
    """Write OpenVINO IR (`path` .xml + .bin) from a module or an ONNX file; metadata goes into rt_info.

    Weights stay fp32 unless `fp16` (OpenVINO's save_model would compress them to fp16 by default).
    """
    ov = require_package("openvino", "export to OpenVINO")
    path = Path(path)
    if path.suffix != ".xml":
        raise ValueError(f"OpenVINO IR is written as a .xml (with a .bin beside it), got {path}")
    with tempfile.TemporaryDirectory(dir=_parent(path), prefix=".export-") as tmp:
        onnx_path, metadata = _as_onnx(model, metadata, Path(tmp))
        ov_model = ov.convert_model(str(onnx_path))
        set_openvino_metadata(ov_model, metadata)
        staged = Path(tmp) / path.name
        ov.save_model(ov_model, str(staged), compress_to_fp16=fp16)
        # The .xml names no .bin: OpenVINO reads the .bin beside it, so the pair is renamed together, .xml last.
        os.replace(staged.with_suffix(".bin"), path.with_suffix(".bin"))
        os.replace(staged, path)
    log.info("exported OpenVINO IR %s (%s weights)", path, "fp16" if fp16 else "fp32")
    return path


def export_tensorrt(model: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
                    path: str | os.PathLike, fp16: bool = False, int8: bool = False, calibration=None,
                    max_batch: int = 8, workspace_gb: float = 2.0) -> Path:
    """Build a TensorRT engine at `path` (.engine or .plan) from a module or an ONNX file, with the metadata
    in `<stem>.json` beside it. INT8 needs `calibration` (a CalibrationBatches). Needs a CUDA GPU."""
    from .tensorrt_backend import build_serialized_engine

    path = Path(path)
    if path.suffix not in (".engine", ".plan"):
        raise ValueError(f"a TensorRT engine is written as .engine or .plan, got {path}")
    precision = "int8" if int8 else "fp16" if fp16 else "fp32"
    with tempfile.TemporaryDirectory(dir=_parent(path), prefix=".export-") as tmp:
        onnx_path, metadata = _as_onnx(model, metadata, Path(tmp))
        plan = build_serialized_engine(onnx_path, precision, max_batch, calibration, workspace_gb)
    with atomic_path(path) as tmp_path:
        tmp_path.write_bytes(plan)
    metadata.replace(extra={**metadata.extra, "tensorrt": {"precision": precision, "max_batch": max_batch}}) \
        .write_json(path.with_suffix(".json"))
    log.info("exported TensorRT engine %s (%s, batch 1..%d)", path, precision, max_batch)
    return path


def _as_onnx(model: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
             folder: Path) -> tuple[Path, ModelMetadata]:
    """An ONNX file for `model` (exported into `folder` for a module) and the metadata to use."""
    if isinstance(model, nn.Module):
        if metadata is None:
            raise ValueError("exporting a module needs its metadata")
        return export_onnx(model, metadata, folder / "model.onnx"), metadata
    source = open_file(Path(model), metadata)
    if source.kind != "onnx":
        raise ValueError(f"{model} holds a model of kind {source.kind!r}; export takes an nn.Module or an ONNX file")
    return source.path, source.metadata


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Keep the exporter's per-pass INFO messages out of the log while it runs."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


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
                      val: str | None = None, calib_clips: int = 64, constant_folding: bool = False) -> ExportResult:
    """What `ar-core export` does: weights (+ metadata json or `model`) -> files in `out_dir`, named x3d_<size>.

    INT8: onnx and openvino get a Q/DQ model quantized with ONNX Runtime on `calib` clips, tensorrt an engine
    calibrated on them; the report compares fp32 and int8 answers on `val` (default: the calibration clips).
    """
    from .calibration import CalibrationBatches, open_clip_dataset

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if int8 and not calib:
        raise ValueError("--int8 needs calibration clips (--calib DATASET)")
    if fp16 and (fmt == "onnx" or int8 and fmt == "openvino"):
        raise ValueError(f"--fp16 applies to openvino (fp32 or fp16 weights) and tensorrt exports, not {fmt}"
                         f"{' with --int8' if int8 else ''}")
    if fmt != "onnx":
        require_package(fmt, f"export to {fmt}")  # before the slow part
    source = open_file(Path(weights), model=model, crop=crop)
    if source.kind != "torch":
        raise ValueError(f"{weights} holds a model of kind {source.kind!r}; export takes PyTorch weights (.pth/.pyth/.pt)")
    out_dir, metadata = Path(out_dir), source.metadata
    stem = f"x3d_{metadata.model}" + ("-int8" if int8 else "-fp16" if fp16 else "")
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
            from .quantize import quantize_onnx

            fp32_path, onnx_path = onnx_path, quantize_onnx(onnx_path, Path(tmp) / "int8.onnx", calibration)
            report = _quantization_report(fp32_path, onnx_path, open_clip_dataset(val or calib, metadata))
        if fmt == "onnx":
            path = out_dir / f"{stem}.onnx"
            os.replace(onnx_path, path)  # same folder, so a rename: the finished file appears whole
            return ExportResult([path], report)
        path = export_openvino(onnx_path, None, out_dir / f"{stem}.xml", fp16=fp16)
        return ExportResult([path, path.with_suffix(".bin")], report)


def _quantization_report(fp32_onnx: Path, int8_onnx: Path, dataset) -> QuantizationReport:
    from .onnxruntime_backend import OnnxRuntimeEngine

    reference, quantized = open_file(fp32_onnx), open_file(int8_onnx)
    with OnnxRuntimeEngine(fp32_onnx, reference.metadata) as fp32, \
            OnnxRuntimeEngine(int8_onnx, quantized.metadata) as q:
        return compare_engines(fp32, q, dataset)
