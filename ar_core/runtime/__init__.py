"""Inference runtimes for X3D: one interface (`create_engine` -> InferenceEngine) over PyTorch, torch.compile,
ONNX Runtime, OpenVINO and TensorRT, plus export, INT8 quantization and benchmarking. See docs/runtimes.md."""
from .engine import BACKEND_NAMES, BACKENDS, InferenceEngine, create_engine
from .errors import BackendUnavailable, InputShapeError, ModelFormatError

__all__ = ["BACKENDS", "BACKEND_NAMES", "BackendUnavailable", "InferenceEngine", "InputShapeError",
           "ModelFormatError", "create_engine"]
