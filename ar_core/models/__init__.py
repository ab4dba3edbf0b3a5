"""The X3D family: builders, per-size specs and checkpoint loading."""
from .checkpoints import CheckpointError, load_checkpoint, load_state_dict, read_state_dict
from .specs import MODEL_SPECS, ModelSpec, get_spec
from .streaming import StreamingX3D, to_streaming
from .x3d import KINETICS_CLASSES, X3D, build_model

__all__ = ["MODEL_SPECS", "KINETICS_CLASSES", "CheckpointError", "ModelSpec", "StreamingX3D", "X3D", "build_model",
           "get_spec", "load_checkpoint", "load_state_dict", "read_state_dict", "to_streaming"]
