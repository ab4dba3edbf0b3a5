"""Inference runtimes for X3D: one interface (`create_engine` -> InferenceEngine) over PyTorch, torch.compile,
ONNX Runtime, OpenVINO and TensorRT, one model loader (`open_model`), plus export, INT8 quantization and
benchmarking. See docs/runtimes.md.

Modules, each importing only those before it: base (interface, errors), cache, timing, embedded, sources (the
model loader), onnx_export, calibration, the backends (torch_backend, onnxruntime_backend, openvino_backend,
tensorrt_backend), backends (the registry), auto, factory (create_engine), quantize, export, bench.
"""
from .backends import BACKEND_NAMES, BACKENDS
from .base import BackendUnavailable, InferenceEngine, InputShapeError, ModelFormatError, WeightsNotFound
from .factory import create_engine
from .sources import ModelSource, open_model

__all__ = ["BACKENDS", "BACKEND_NAMES", "BackendUnavailable", "InferenceEngine", "InputShapeError",
           "ModelFormatError", "ModelSource", "WeightsNotFound", "create_engine", "open_model"]
