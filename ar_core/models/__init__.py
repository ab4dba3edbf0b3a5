"""Video models: the registry (every `model` name, its builder and figures), checkpoints and streaming."""
from .checkpoints import CheckpointError, load_checkpoint, load_state_dict, read_state_dict
from .registry import KINETICS_CLASSES, MODEL_SPECS, build_model, get_spec
from .specs import ModelSpec
from .streaming import StreamingX3D, to_streaming
from .x3d import X3D

__all__ = ["MODEL_SPECS", "KINETICS_CLASSES", "CheckpointError", "ModelSpec", "StreamingX3D", "X3D", "build_model",
           "get_spec", "load_checkpoint", "load_state_dict", "read_state_dict", "to_streaming"]
