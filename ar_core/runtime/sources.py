"""What `create_engine` was given, opened as a ModelSource: the model (a module or a file), its kind and metadata.

Kinds: "torch" (an nn.Module, or a .pth/.pyth/.pt state dict), "onnx" (.onnx), "openvino" (.xml IR) and
"tensorrt" (.engine/.plan). Metadata comes from the file itself (ONNX metadata_props, OpenVINO rt_info),
else from `<stem>.json` beside it, else from what the caller passes. Every check that can be made without
running the model happens here: input shape and class count against the metadata.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from torch import nn

from ..labels import kinetics400_labels
from ..models import KINETICS_CLASSES, build_model, get_spec
from ..models.checkpoints import HEAD_KEYS, load_state_dict, read_state_dict
from ..models.metadata import ModelMetadata
from .cache import file_digest, module_digest
from .errors import ModelFormatError

KINDS_BY_SUFFIX = {".pth": "torch", ".pyth": "torch", ".pt": "torch", ".onnx": "onnx", ".xml": "openvino",
                   ".engine": "tensorrt", ".plan": "tensorrt"}


@dataclass
class ModelSource:
    kind: str  # torch | onnx | openvino | tensorrt
    metadata: ModelMetadata
    path: Path | None = None  # the file, or None for an in-memory module
    module: nn.Module | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.path) if self.path else f"{type(self.module).__name__} module"

    @cached_property
    def digest(self) -> str:
        """Identifies the weights and metadata, for the keys of derived files (exports, engines, choices)."""
        weights = file_digest(self.path) if self.path else module_digest(self.module)
        return f"{weights[:32]}-{_text_digest(self.metadata.to_json())[:8]}"


def model_files(source: str | os.PathLike) -> dict[str, Path]:
    """kind -> file for a model file, or for each kind of model file in a directory (one of each at most)."""
    path = Path(source).expanduser()
    if path.is_file():
        return {_kind_of(path): path}
    if not path.is_dir():
        raise FileNotFoundError(f"model not found: {path}")
    found: dict[str, list[Path]] = {}
    for child in sorted(path.iterdir()):
        if child.is_file() and child.suffix.lower() in KINDS_BY_SUFFIX:
            found.setdefault(KINDS_BY_SUFFIX[child.suffix.lower()], []).append(child)
    if not found:
        raise ModelFormatError(f"no model file in {path} (looked for {', '.join(sorted(KINDS_BY_SUFFIX))})")
    ambiguous = {kind: files for kind, files in found.items() if len(files) > 1}
    if ambiguous:
        listing = "; ".join(f"{kind}: {', '.join(f.name for f in files)}" for kind, files in ambiguous.items())
        raise ModelFormatError(f"{path} holds more than one model of a kind ({listing}); name the file instead")
    return {kind: files[0] for kind, files in found.items()}


def open_file(path: Path, metadata: ModelMetadata | None = None, model: str | None = None,
              crop: int | None = None) -> ModelSource:
    """Open one model file; `metadata` replaces what the file carries, `model` must agree with it."""
    opener = {"torch": _open_weights, "onnx": _open_onnx, "openvino": _open_openvino, "tensorrt": _open_tensorrt}
    source = opener[_kind_of(path)](path, metadata, model)
    _check_model_name(source, model)
    return _with_crop(source, crop)


def from_module(module: nn.Module, metadata: ModelMetadata | None = None, model: str | None = None,
                crop: int | None = None) -> ModelSource:
    """An in-memory model; X3D modules with 400 classes describe themselves, others need `metadata`."""
    if metadata is None:
        spec = getattr(module, "spec", None)
        if spec is None:
            raise ModelFormatError(f"a {type(module).__name__} module needs metadata=ModelMetadata(...)")
        metadata = ModelMetadata.for_spec(spec, _default_classes(_module_classes(module), "the module"))
    source = ModelSource("torch", metadata, module=module)
    _check_head(source, _module_classes(module))
    _check_model_name(source, model)
    return _with_crop(source, crop)


def _kind_of(path: Path) -> str:
    kind = KINDS_BY_SUFFIX.get(path.suffix.lower())
    if kind is None:
        raise ModelFormatError(f"{path} is not a model file: unknown suffix {path.suffix!r} "
                               f"(expected one of {', '.join(sorted(KINDS_BY_SUFFIX))})")
    return kind


def _open_weights(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    state = read_state_dict(path)
    head = state.get(HEAD_KEYS[0])
    if head is None or head.ndim != 2:
        raise ModelFormatError(f"{path} is not an X3D checkpoint: it has no {HEAD_KEYS[0]} matrix")
    num_classes = head.shape[0]
    metadata = metadata or _metadata_beside(path)
    if metadata is None:
        if model is None:
            raise ModelFormatError(f"{path} has no metadata ({path.with_suffix('.json').name} beside it); "
                                   f"say which X3D size it is (model='xs'|'s'|'m'|'l')")
        metadata = ModelMetadata.for_spec(get_spec(model), _default_classes(num_classes, str(path)))
    module = build_model(metadata.model, num_classes=num_classes).eval()
    source = ModelSource("torch", metadata, path, module)
    _check_head(source, num_classes)
    load_state_dict(module, state, source=str(path))
    return source


def _open_onnx(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    import onnx
    from google.protobuf.message import DecodeError

    from .embedded import onnx_metadata

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise ModelFormatError(f"{path} is not an ONNX model ({type(err).__name__}: {err})") from None
    graph = proto.graph
    if not graph.node or len(graph.input) < 1 or len(graph.output) < 1:
        raise ModelFormatError(f"{path} is not an ONNX model: its graph has no nodes, inputs or outputs")
    metadata = metadata or onnx_metadata(proto, str(path)) or _metadata_beside(path)
    source = _require_metadata(ModelSource("onnx", metadata, path), path)
    _check_io(source, _onnx_dims(graph.input[0]), _onnx_dims(graph.output[0]))
    return source


def _open_openvino(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    from .embedded import openvino_metadata
    from .engine import require_package

    ov = require_package("openvino", f"reading {path}")
    try:
        ov_model = ov.Core().read_model(str(path))
    except RuntimeError as err:
        raise ModelFormatError(f"{path} is not an OpenVINO IR model ({_first_line(err)})") from None
    metadata = metadata or openvino_metadata(ov_model, str(path)) or _metadata_beside(path)
    source = _require_metadata(ModelSource("openvino", metadata, path), path)
    _check_io(source, _openvino_dims(ov_model.inputs[0]), _openvino_dims(ov_model.outputs[0]))
    return source


def _open_tensorrt(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    # The engine's shapes are checked when it is deserialized (that needs TensorRT and a GPU).
    return _require_metadata(ModelSource("tensorrt", metadata or _metadata_beside(path), path), path)


def _metadata_beside(path: Path) -> ModelMetadata | None:
    beside = path.with_suffix(".json")
    return ModelMetadata.read_json(beside) if beside.is_file() else None


def _require_metadata(source: ModelSource, path: Path) -> ModelSource:
    if source.metadata is None:
        raise ModelFormatError(f"{path} carries no ar_core metadata and there is no {path.with_suffix('.json').name} "
                               f"beside it: export it with `ar-core export` or pass metadata=ModelMetadata(...)")
    return source


def _default_classes(num_classes: int, what: str) -> list[str]:
    """Kinetics-400 names for a 400-class head; other class counts must come with metadata."""
    if num_classes != KINETICS_CLASSES:
        raise ModelFormatError(f"{what} has a {num_classes}-class head and no metadata naming its classes: "
                               f"pass metadata=ModelMetadata(...) or put a .json beside the weights")
    return list(kinetics400_labels())


def _module_classes(module: nn.Module) -> int | None:
    return getattr(module, "num_classes", None)


def _check_head(source: ModelSource, num_classes: int | None) -> None:
    if num_classes is not None and num_classes != source.metadata.num_classes:
        raise ModelFormatError(f"{source.name} has a {num_classes}-class head but its metadata lists "
                               f"{source.metadata.num_classes} class names")


def _check_model_name(source: ModelSource, model: str | None) -> None:
    if model is not None and get_spec(model).name != source.metadata.model:
        raise ModelFormatError(f"{source.name} is an X3D-{source.metadata.model.upper()} model, "
                               f"not X3D-{get_spec(model).name.upper()} as requested")


def _check_io(source: ModelSource, input_dims: list, output_dims: list) -> None:
    """Fixed dims of the file must match the metadata; named (dynamic) dims match anything."""
    expected = (None, *source.metadata.input_shape)
    if len(input_dims) != 5 or any(isinstance(d, int) and e is not None and d != e
                                   for d, e in zip(input_dims, expected)):
        raise ModelFormatError(f"{source.name}: its input is {_shape_text(input_dims)} but its metadata says "
                               f"clips of {_shape_text(list(expected))}")
    if len(output_dims) != 2 or (isinstance(output_dims[1], int) and output_dims[1] != source.metadata.num_classes):
        raise ModelFormatError(f"{source.name}: its output is {_shape_text(output_dims)} but its metadata lists "
                               f"{source.metadata.num_classes} class names")


def _with_crop(source: ModelSource, crop: int | None) -> ModelSource:
    """Run at `crop`: free for torch models (fully convolutional); exported files are fixed to theirs."""
    if crop is None or crop == source.metadata.crop:
        return source
    if source.kind != "torch":
        raise ModelFormatError(f"{source.name} was exported for {source.metadata.crop} px clips; "
                               f"crop={crop} needs a new export")
    return ModelSource(source.kind, source.metadata.replace(crop=crop), source.path, source.module)


def _onnx_dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
            for d in value_info.type.tensor_type.shape.dim]


def _openvino_dims(port) -> list:
    return [d.get_length() if d.is_static else None for d in port.get_partial_shape()]


def _shape_text(dims: list) -> str:
    return "x".join("N" if d is None or isinstance(d, str) else str(d) for d in dims)


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _first_line(err: Exception) -> str:
    return next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
