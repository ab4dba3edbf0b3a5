"""TensorRT on CUDA GPUs, through its Python API (TensorRT 10: builder flags FP16/INT8 and IInt8EntropyCalibrator2,
both removed in TensorRT 11, hence the pin in requirements-gpu.txt).

Engines are built from ONNX (fp32, fp16, or int8 calibrated with entropy calibration on CalibrationBatches) and
cached on disk under a key made of the ONNX file's hash, the GPU's name, the TensorRT version, the precision
and the largest batch, since an engine is only valid for the GPU and TensorRT that built it. Device memory
comes from torch's CUDA allocator. `tensorrt` is imported inside functions only: the key and the calibration
batching work without it.

Written against the documented TensorRT 10 API; not run on a GPU in this project's CI (it has none).
"""
from __future__ import annotations

import logging
import os
import re

import numpy as np

from ..atomic import atomic_path
from ..models.metadata import ModelMetadata
from .base import BackendUnavailable, Clips, InferenceEngine, ModelFormatError, require_package
from .cache import file_digest, runtime_cache_dir
from .calibration import CalibrationBatches
from .onnx_export import cached_onnx
from .sources import ModelSource

log = logging.getLogger(__name__)

TENSORRT_PRECISIONS = ("fp32", "fp16", "int8")
# Why stream models are refused: the engines here bind one clip input and one output, a step binds 1 + K inputs
# and outputs with a profile each, and without a GPU here it could not be tested.
STREAM_TENSORRT = ("TensorRT engines here run clip models only (a stream step binds a frame and K states, which "
                   "this backend does not build or bind yet, and no GPU here could test it); run the stream "
                   "ONNX on onnxruntime with device='tensorrt' or 'cuda' instead")


def engine_cache_key(model_digest: str, gpu_name: str, tensorrt_version: str, precision: str, max_batch: int) -> str:
    """A file-name-safe key naming everything a serialized engine depends on."""
    if precision not in TENSORRT_PRECISIONS:
        raise ValueError(f"unknown TensorRT precision {precision!r}; valid: {', '.join(TENSORRT_PRECISIONS)}")
    gpu = re.sub(r"[^a-z0-9]+", "-", gpu_name.lower()).strip("-") or "gpu"
    version = re.sub(r"[^0-9A-Za-z.]+", "-", tensorrt_version)
    return f"{model_digest[:24]}-{gpu}-trt{version}-{precision}-b{max_batch}"


def build_serialized_engine(onnx_path: str | os.PathLike, precision: str = "fp32", max_batch: int = 8,
                            calibration: CalibrationBatches | None = None, workspace_gb: float = 2.0) -> bytes:
    """Parse the ONNX file and build an engine for batches 1..max_batch (a fixed-batch model keeps its batch)."""
    trt = require_package("tensorrt", "building a TensorRT engine")
    if precision not in TENSORRT_PRECISIONS:
        raise ValueError(f"unknown TensorRT precision {precision!r}; valid: {', '.join(TENSORRT_PRECISIONS)}")
    if precision == "int8" and calibration is None:
        raise ValueError("a TensorRT INT8 engine needs calibration data (CalibrationBatches)")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10 networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFormatError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    clips = network.get_input(0)
    config.add_optimization_profile(_profile(builder, clips, 1, max_batch))
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # int8: layers without an int8 kernel fall back to fp16
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_calibration_profile(_profile(builder, clips, calibration.batch_size, calibration.batch_size))
        config.int8_calibrator = make_entropy_calibrator(calibration)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT could not build an engine from {onnx_path} (its log above says why)")
    return bytes(plan)


def _profile(builder, clips, smallest: int, largest: int):
    clip_shape = tuple(clips.shape)[1:]
    fixed = tuple(clips.shape)[0]
    low, high = (smallest, largest) if fixed == -1 else (fixed, fixed)
    profile = builder.create_optimization_profile()
    profile.set_shape(clips.name, (low, *clip_shape), (low, *clip_shape), (high, *clip_shape))
    return profile


def make_entropy_calibrator(batches: CalibrationBatches):
    """An IInt8EntropyCalibrator2 that feeds `batches` to TensorRT one device copy at a time."""
    import tensorrt as trt
    import torch

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.remaining = iter(batches)
            self.on_device = None  # keeps the current batch alive while TensorRT reads it

        def get_batch_size(self) -> int:
            return batches.batch_size

        def get_batch(self, names):
            batch = next(self.remaining, None)
            if batch is None:
                return None
            self.on_device = torch.from_numpy(batch).cuda()
            return [int(self.on_device.data_ptr())]

        def read_calibration_cache(self):
            return None  # engines are cached whole; calibration always runs for a new one

        def write_calibration_cache(self, cache) -> None:
            pass

    return EntropyCalibrator()


class TensorRTEngine(InferenceEngine):
    backend = "tensorrt"

    def __init__(self, plan: bytes, metadata: ModelMetadata, device: str, source: str):
        import tensorrt as trt
        import torch

        super().__init__(metadata, device)
        self.torch_device = torch.device(device)
        with torch.cuda.device(self.torch_device):
            self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
            self.engine = self.runtime.deserialize_cuda_engine(plan)
            if self.engine is None:
                raise ModelFormatError(f"{source} is not a TensorRT engine for this GPU and TensorRT "
                                       f"{trt.__version__} (engines must be built where they run)")
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        modes = {name: self.engine.get_tensor_mode(name) for name in names}
        self.input_name = next(n for n in names if modes[n] == trt.TensorIOMode.INPUT)
        self.output_name = next(n for n in names if modes[n] == trt.TensorIOMode.OUTPUT)
        input_shape = tuple(self.engine.get_tensor_shape(self.input_name))
        output_shape = tuple(self.engine.get_tensor_shape(self.output_name))
        if input_shape[1:] != metadata.input_shape or output_shape[1:] != (metadata.num_classes,):
            raise ModelFormatError(f"{source}: engine maps {input_shape} to {output_shape} but its metadata says "
                                   f"clips of {metadata.input_shape} and {metadata.num_classes} classes")
        self.max_batch = self.engine.get_tensor_profile_shape(self.input_name, 0)[2][0]

    def _predict(self, clips: Clips) -> np.ndarray:
        import torch

        clips = torch.as_tensor(clips).to(self.torch_device).contiguous()
        stream = torch.cuda.current_stream(self.torch_device)
        outputs = []
        for chunk in clips.split(self.max_batch):
            out = torch.empty((len(chunk), self.metadata.num_classes), device=self.torch_device)
            self.context.set_input_shape(self.input_name, tuple(chunk.shape))
            self.context.set_tensor_address(self.input_name, chunk.data_ptr())
            self.context.set_tensor_address(self.output_name, out.data_ptr())
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise RuntimeError("TensorRT inference failed (its log above says why)")
            outputs.append(out)
        stream.synchronize()
        return torch.cat(outputs).cpu().numpy()

    def _release(self) -> None:
        import torch

        self.context = self.engine = self.runtime = None
        torch.cuda.empty_cache()


def open_engine(source: ModelSource, device: str = "cuda", num_threads: int | None = None, precision: str = "fp32",
                cache_dir=None, max_batch: int = 8, workspace_gb: float = 2.0) -> TensorRTEngine:
    import torch

    if source.metadata.inference == "stream":
        raise BackendUnavailable(f"{source.name}: {STREAM_TENSORRT}")
    if source.kind == "tensorrt":
        return TensorRTEngine(source.path.read_bytes(), source.metadata, device, str(source.path))
    trt = require_package("tensorrt", "backend 'tensorrt'")
    onnx_path = cached_onnx(source, cache_dir)
    key = engine_cache_key(file_digest(onnx_path), torch.cuda.get_device_name(torch.device(device)), trt.__version__,
                           precision, max_batch)
    path = runtime_cache_dir(cache_dir) / "tensorrt" / f"{key}.engine"
    if not path.is_file():
        log.info("building TensorRT engine %s (minutes on first use)", path.name)
        plan = build_serialized_engine(onnx_path, precision, max_batch, workspace_gb=workspace_gb)
        with atomic_path(path) as tmp:
            tmp.write_bytes(plan)
    return TensorRTEngine(path.read_bytes(), source.metadata, device, str(path))
