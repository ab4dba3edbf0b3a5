"""Export an X3D model to OpenVINO IR and TensorRT engines, INT8 copies of exported models (NNCF), and what
`ar-core export` does.

Each file carries its ModelMetadata: in `rt_info` under `ar_core.metadata` (OpenVINO), or in `<stem>.json`
beside a TensorRT engine, so `create_engine(file)` needs nothing else. ONNX itself is onnx_export's.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..atomic import atomic_path
from ..models import get_spec
from ..models.metadata import ModelMetadata
from .base import BackendUnavailable, require_package
from .calibration import CalibrationBatches
from .embedded import set_onnx_metadata, set_openvino_metadata
from .factory import create_engine
from .onnx_export import export_onnx
from .quantize import QuantizationReport, compare_engines, quantization_details, quantize_model
from .sources import ModelSource, open_model
from .tensorrt_backend import STREAM_TENSORRT, build_serialized_engine

log = logging.getLogger(__name__)


def export_openvino(network_or_onnx: nn.Module | str | os.PathLike, metadata: ModelMetadata | None,
                    path: str | os.PathLike, fp16: bool = False) -> Path:
    """Write OpenVINO IR (`path` .xml + .bin) from a network or an ONNX file; metadata goes into rt_info.

    Weights stay fp32 unless `fp16` (OpenVINO's save_model would compress them to fp16 by default).
    """
    ov = require_package("openvino", "export to OpenVINO")
    path = _ir_path(path)
    with tempfile.TemporaryDirectory(dir=_parent(path), prefix=".export-") as tmp:
        onnx_path, metadata = _as_onnx(network_or_onnx, metadata, Path(tmp))
        save_openvino(ov.convert_model(str(onnx_path)), metadata, path, fp16)
    log.info("exported OpenVINO IR %s (%s weights)", path, "fp16" if fp16 else "fp32")
    return path


def save_openvino(ov_model, metadata: ModelMetadata, path: str | os.PathLike, fp16: bool = False) -> Path:
    """Write an openvino.Model with `metadata` in its rt_info to `path` (.xml + .bin), the pair atomically."""
    ov = require_package("openvino", "export to OpenVINO")
    path = _ir_path(path)
    set_openvino_metadata(ov_model, metadata)
    with tempfile.TemporaryDirectory(dir=_parent(path), prefix=".export-") as tmp:
        staged = Path(tmp) / path.name
        ov.save_model(ov_model, str(staged), compress_to_fp16=fp16)
        # The .xml names no .bin: OpenVINO reads the .bin beside it, so the pair is renamed together, .xml last.
        os.replace(staged.with_suffix(".bin"), path.with_suffix(".bin"))
        os.replace(staged, path)
    return path


def _ir_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix != ".xml":
        raise ValueError(f"OpenVINO IR is written as a .xml (with a .bin beside it), got {path}")
    return path


def quantize_file(model_path: str | os.PathLike, out_path: str | os.PathLike, calibration: CalibrationBatches,
                  preset: str = "performance") -> Path:
    """Write an INT8 copy of the exported model at `model_path` (.onnx -> Q/DQ .onnx, .xml -> .xml + .bin with
    FakeQuantize) to `out_path`, atomically. Its metadata is the original's plus extra["quantization"]."""
    source = open_model(model_path, kinds=("onnx", "openvino"))
    if "quantization" in source.metadata.extra:
        raise ValueError(f"{model_path} is already quantized ({source.metadata.extra['quantization']})")
    out_path = Path(out_path)
    wanted = ".onnx" if source.kind == "onnx" else ".xml"
    if out_path.suffix != wanted:
        raise ValueError(f"the INT8 copy of {source.path.name} ({source.kind}) is a {wanted} file, got {out_path}")
    metadata = source.metadata.replace(extra={**source.metadata.extra,
                                              "quantization": quantization_details(calibration, preset)})
    if source.kind == "onnx":
        import onnx

        proto = quantize_model(onnx.load(str(source.path)), calibration, preset)
        set_onnx_metadata(proto, metadata)
        with atomic_path(_parent(out_path) / out_path.name) as tmp_path:
            onnx.save(proto, str(tmp_path))
    else:
        ov = require_package("openvino", "INT8 quantization of OpenVINO IR")
        save_openvino(quantize_model(ov.Core().read_model(str(source.path)), calibration, preset), metadata,
                      out_path)
    log.info("quantized %s -> %s on %d calibration clips", source.path, out_path, calibration.num_samples)
    return out_path


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
    report: Path | None = None  # the quantization report's JSON


FORMATS = ("onnx", "openvino", "tensorrt")
EXPORTED_KINDS = ("onnx", "openvino")  # what --int8 quantizes as it is
# clips(metadata, mode): a labelled clip data set shaped for `metadata`, from the training data ("train":
# calibration) or its validation part ("val"). The CLI builds them from the train data flags.
ClipSets = Callable[[ModelMetadata, str], Sequence]


def export_checkpoint(weights: str | os.PathLike, fmt: str | None, out_dir: str | os.PathLike,
                      model: str | None = None, crop: int | None = None, fp16: bool = False, int8: bool = False,
                      clips: ClipSets | None = None, calib_clips: int = 64, preset: str = "performance",
                      constant_folding: bool = False, inference: str = "clip", pool_frames: int | None = None,
                      num_threads: int | None = None) -> ExportResult:
    """What `ar-core export` does: a model the loader opens from `weights` -> files in `out_dir`.

    Torch weights (weights file, its .json, a run folder; `model` names the size where no metadata says it)
    are exported to `fmt`, named x3d_<size>. INT8 (`int8`, `clips` given) also takes an exported .onnx or
    .xml (`fmt` defaults to its kind), named <stem>-int8: the fp32 model is exported (or taken as it is), then
    quantized by NNCF on `calib_clips` clips of clips(metadata, "train"); tensorrt builds an engine calibrated
    on them instead. The report compares fp32 and int8 on clips(metadata, "val"): top-1 accuracy, agreement,
    and latency per clip on the openvino engine (`num_threads`); it is also written as <stem>.quantization.json.
    inference="stream": the continual step (models.streaming) with a `pool_frames` pool, named
    x3d_<size>-stream (onnx and openvino, fp32 or fp16 weights).
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if inference == "stream" and (int8 or fmt == "tensorrt"):
        raise BackendUnavailable(f"stream export {'to tensorrt' if fmt == 'tensorrt' else 'with --int8'} is not "
                                 f"implemented: {STREAM_TENSORRT if fmt == 'tensorrt' else 'calibration runs clips'}")
    if int8 and clips is None:
        raise ValueError("--int8 needs calibration clips: the training data flags (--dataset ...)")
    if calib_clips < 1:
        raise ValueError(f"--calib-clips must be at least 1, got {calib_clips}")
    source = open_model(weights, model, kinds=("torch", *EXPORTED_KINDS) if int8 else ("torch",), crop=crop,
                        inference=inference, pool_frames=pool_frames)
    exported = source.kind != "torch"
    fmt = fmt or (source.kind if exported else None)
    if fmt is None:
        raise ValueError("--format is needed for torch weights (onnx, openvino or tensorrt)")
    if source.kind == "openvino" and fmt != "openvino":
        raise ValueError(f"{source.path} is OpenVINO IR: its INT8 copy is IR too (--format openvino), not {fmt}")
    if fp16 and (fmt == "onnx" or int8 and fmt == "openvino"):
        raise ValueError(f"--fp16 applies to openvino (fp32 or fp16 weights) and tensorrt exports, not {fmt}"
                         f"{' with --int8' if int8 else ''}")
    if fmt != "onnx":
        require_package(fmt, f"export to {fmt}")  # before the slow part
    out_dir, metadata = Path(out_dir), source.metadata
    if exported:
        stem = f"{source.path.stem}-int8"
    else:
        stem = get_spec(metadata.model).file_stem + ("-stream" if inference == "stream" else "") + \
            ("-int8" if int8 else "-fp16" if fp16 else "")
    calibration = None
    if int8:
        data = _labelled_like(clips(metadata, "train"), metadata, "calibration")
        batch = 1 if fmt != "tensorrt" else max(1, min(8, len(data), calib_clips))
        calibration = CalibrationBatches(data, batch_size=batch, max_samples=calib_clips,
                                         input_shape=metadata.input_shape)
        if fmt != "tensorrt":  # built before quantizing, so a missing validation set leaves no files behind
            validation = _labelled_like(clips(metadata, "val"), metadata, "validation")
    with tempfile.TemporaryDirectory(dir=_parent(out_dir / stem), prefix=".export-") as tmp:
        fp32 = source.path if exported else export_onnx(source.module, metadata, Path(tmp) / "fp32.onnx",
                                                        do_constant_folding=constant_folding)
        if fmt == "tensorrt":
            path = export_tensorrt(fp32, None, out_dir / f"{stem}.engine", fp16, int8, calibration)
            return ExportResult([path, path.with_suffix(".json")])
        if fmt == "openvino" and fp32.suffix == ".onnx":
            fp32 = export_openvino(fp32, None, Path(tmp) / "fp32.xml" if int8 else out_dir / f"{stem}.xml", fp16)
        if not int8:
            if fmt == "onnx":
                os.replace(fp32, out_dir / f"{stem}.onnx")  # same folder, so a rename: the file appears whole
                fp32 = out_dir / f"{stem}.onnx"
            return ExportResult(_files(fp32))
        path = quantize_file(fp32, out_dir / f"{stem}{fp32.suffix}", calibration, preset)
        report = _quantization_report(fp32, path, validation, num_threads)
    report_path = _write_report(out_dir / f"{stem}.quantization.json", path, source, calibration, calib_clips,
                                report, num_threads)
    return ExportResult(_files(path), report, report_path)


def _files(path: Path) -> list[Path]:
    return [path, path.with_suffix(".bin")] if path.suffix == ".xml" else [path]


def _labelled_like(dataset: Sequence, metadata: ModelMetadata, role: str) -> Sequence:
    """`dataset`, refused when its classes are not the model's (its labels would not index the outputs)."""
    classes = getattr(dataset, "classes", None)
    if classes is not None and list(classes) != list(metadata.classes):
        raise ValueError(f"the {role} data set's classes ({', '.join(map(str, classes[:8]))}"
                         f"{', ...' if len(classes) > 8 else ''}) are not the model's "
                         f"({', '.join(metadata.classes[:8])}{', ...' if metadata.num_classes > 8 else ''})")
    if len(dataset) < 1:
        raise ValueError(f"the {role} data set holds no clips")
    return dataset


LATENCY_RUNS = 20  # timed predictions of one clip per model, after warm-up (the median is reported)


def _quantization_report(fp32: Path, int8: Path, dataset: Sequence, num_threads: int | None) -> QuantizationReport:
    """fp32 vs int8 on `dataset`, both on the openvino engine (it runs Q/DQ ONNX files on its INT8 kernels)."""
    with create_engine(fp32, "openvino", "cpu", num_threads) as reference, \
            create_engine(int8, "openvino", "cpu", num_threads) as quantized:
        return compare_engines(reference, quantized, dataset, latency_runs=LATENCY_RUNS)


def _write_report(path: Path, model: Path, source: ModelSource, calibration: CalibrationBatches, asked: int,
                  report: QuantizationReport, num_threads: int | None) -> Path:
    data = {"model": str(model), "source": str(source.path),
            "quantization": open_model(model, kinds=EXPORTED_KINDS).metadata.extra["quantization"],
            "calibration": {"clips_asked": asked, "clips_used": calibration.num_samples},
            "validation": report.to_dict(),
            "latency": {"backend": "openvino", "num_threads": num_threads or 0, "batch": 1, "runs": LATENCY_RUNS}}
    with atomic_path(path) as tmp_path:
        tmp_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
