"""The one model loader: whatever a user names as weights, opened as a ModelSource.

`open_model(weights, model)` takes
    PyTorch weights  .pth / .pt (a state dict) or an official SlowFast .pyth
    their metadata   <stem>.json: the model file of the same stem beside it is opened
    an export        .onnx, OpenVINO .xml (+ .bin), TensorRT .engine / .plan
    a folder         written by X3DLearner.save(): x3d_xs.*, then x3d_xs_1.*, x3d_xs_2.*, ... (the newest
                     complete version: the one with the highest number whose .json is there), or holding
                     official x3d_<size>.pyth files (the one for `model`)
`kinds` are the kinds the caller runs, preferred first: given a folder holding x3d_xs.pth and x3d_xs.onnx,
kinds=("onnx", "torch") opens the ONNX file. Kinds: "torch" (weights), "onnx", "openvino", "tensorrt".

Metadata comes from `metadata=`, else the file itself (ONNX metadata_props, OpenVINO rt_info), else
`<stem>.json` beside it, else (PyTorch weights only) the spec of `model`, or of the size an official
checkpoint's file name says, with the Kinetics-400 class names. Every check that can be made without running
the model happens here: input shape, class count and size against the metadata.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from torch import nn

from ..labels import kinetics400_labels
from ..models import KINETICS_CLASSES, MODEL_SPECS, build_model, get_spec
from ..models.checkpoints import load_state_dict, read_state_dict
from ..models.registry import checkpoint_classes, classifier_keys, identify
from ..models.metadata import INFERENCE_MODES, ModelMetadata
from ..models.streaming import StreamingX3D, stream_metadata, to_streaming
from .base import ModelFormatError, WeightsNotFound, require_package
from .cache import file_digest, module_digest
from .embedded import onnx_metadata, openvino_metadata

KINDS = ("torch", "onnx", "openvino", "tensorrt")
KINDS_BY_SUFFIX = {".pth": "torch", ".pyth": "torch", ".pt": "torch", ".onnx": "onnx", ".xml": "openvino",
                   ".engine": "tensorrt", ".plan": "tensorrt"}
METADATA_SUFFIX = ".json"
# A saved model's file stem: its base name, then _<version> from the second save into the same folder on.
VERSIONED = re.compile(r"^(?P<base>.+?)(?:_(?P<version>\d+))?$")
# A published checkpoint's file name says which model it is (x3d_xs.pyth, r2plus1d_18-91a641e6.pth).
PUBLISHED = {spec.checkpoint: name for name, spec in MODEL_SPECS.items() if spec.checkpoint}
# Longest first, so r2plus1d_18_2 is version 2 of r2plus1d_18, not version 18 of r2plus1d.
REGISTRY_STEMS = sorted((spec.file_stem for spec in MODEL_SPECS.values()), key=len, reverse=True)


def split_version(stem: str) -> tuple[str, int]:
    """(base, version) of a saved file stem: x3d_xs -> (x3d_xs, 0), r2plus1d_18_2 -> (r2plus1d_18, 2)."""
    for base in REGISTRY_STEMS:
        if stem == base:
            return base, 0
        if stem.startswith(base + "_") and stem[len(base) + 1:].isdigit():
            return base, int(stem[len(base) + 1:])
    match = VERSIONED.match(stem)
    return match["base"], int(match["version"] or 0)


@dataclass
class ModelSource:
    kind: str  # torch | onnx | openvino | tensorrt
    metadata: ModelMetadata
    path: Path | None = None  # the model file, or None for an in-memory network
    module: nn.Module | None = field(default=None, repr=False)  # torch kind: in eval mode, weights loaded

    @property
    def name(self) -> str:
        return str(self.path) if self.path else f"{type(self.module).__name__} module"

    @cached_property
    def digest(self) -> str:
        """Identifies the weights and metadata, for the keys of derived files (exports, engines, choices)."""
        weights = file_digest(self.path) if self.path else module_digest(self.module)
        return f"{weights[:32]}-{_text_digest(self.metadata.to_json())[:8]}"


def open_model(weights: str | os.PathLike, model: str | None = None, *, kinds: Sequence[str] | None = None,
               metadata: ModelMetadata | None = None, crop: int | None = None, inference: str | None = None,
               pool_frames: int | None = None) -> ModelSource:
    """The model that `weights` names, of the first of `kinds` (default: any) it holds.

    model: a registry name: picks a folder's <file stem> files, describes weights that have no metadata,
        and must agree with the metadata otherwise.
    metadata: replaces what the files carry.
    crop: run at this crop (torch models only; an export keeps the crop it was made for).
    inference: clip | stream (default: what the model is; torch weights: clip); pool_frames: the stream's pool
        (torch weights; default the clip length; an export's comes from its metadata).
    """
    kind, path = next(iter(model_files(weights, model, kinds).items()))
    opener = {"torch": _open_weights, "onnx": _open_onnx, "openvino": _open_openvino, "tensorrt": _open_tensorrt}
    source = opener[kind](path, metadata, model)
    _check_model_name(source, model)
    return _with_inference(_with_crop(source, crop), inference, pool_frames)


def open_network(network: nn.Module, metadata: ModelMetadata | None = None, model: str | None = None,
                 crop: int | None = None, inference: str | None = None,
                 pool_frames: int | None = None) -> ModelSource:
    """An in-memory network; networks from build_model describe themselves, others need `metadata`."""
    if metadata is None:
        spec = getattr(network, "spec", None)
        if spec is None:
            raise ModelFormatError(f"a {type(network).__name__} module needs metadata=ModelMetadata(...)")
        metadata = ModelMetadata.for_spec(spec, _default_classes(_network_classes(network), "the module"))
    source = ModelSource("torch", metadata, module=network)
    _check_head(source, _network_classes(network))
    _check_model_name(source, model)
    return _with_inference(_with_crop(source, crop), inference, pool_frames)


def model_files(weights: str | os.PathLike, model: str | None = None,
                kinds: Sequence[str] | None = None) -> dict[str, Path]:
    """kind -> file of the one model that `weights` names, for each of `kinds` it holds, in `kinds`' order."""
    kinds = _checked_kinds(kinds)
    path = Path(weights).expanduser()
    if path.is_dir():
        files = _folder_files(path, model, kinds)
    elif path.is_file() and path.suffix.lower() == METADATA_SUFFIX:
        files = _files_of_stem(path.parent, path.stem)
        if not files:
            raise ModelFormatError(f"{path}: no model file beside it (looked for {path.stem} with a suffix of "
                                   f"{', '.join(KINDS_BY_SUFFIX)})")
    elif path.is_file():
        files = {_kind_of(path): path}
    else:
        raise WeightsNotFound(f"weights not found: {path}")
    usable = {kind: files[kind] for kind in kinds if kind in files}
    if not usable:
        held = ", ".join(f"{file.name} ({kind})" for kind, file in files.items())
        raise ModelFormatError(f"{path} holds {held}, not a model of kind {' or '.join(kinds)}")
    return usable


def free_stem(folder: Path, base: str) -> str:
    """base, base_1, base_2, ...: the first version of which no file exists in `folder` (for save())."""
    version = 0
    while True:
        stem = base if version == 0 else f"{base}_{version}"
        if not any((folder / f"{stem}{suffix}").exists() for suffix in (*KINDS_BY_SUFFIX, METADATA_SUFFIX)):
            return stem
        version += 1


def _checked_kinds(kinds: Sequence[str] | None) -> tuple[str, ...]:
    if kinds is None:
        return KINDS
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"model kinds must be some of {', '.join(KINDS)}, got {', '.join(kinds) or 'none'}")
    return tuple(kinds)


def _kind_of(path: Path) -> str:
    kind = KINDS_BY_SUFFIX.get(path.suffix.lower())
    if kind is None:
        raise ModelFormatError(f"{path} is not a model file: unknown suffix {path.suffix!r} "
                               f"(expected one of {', '.join(sorted([*KINDS_BY_SUFFIX, METADATA_SUFFIX]))})")
    return kind


def _files_of_stem(folder: Path, stem: str) -> dict[str, Path]:
    return {KINDS_BY_SUFFIX[suffix]: folder / f"{stem}{suffix}" for suffix in KINDS_BY_SUFFIX
            if (folder / f"{stem}{suffix}").is_file()}


def _folder_files(folder: Path, model: str | None, kinds: tuple[str, ...]) -> dict[str, Path]:
    """The files of the one model in `folder` that holds one of `kinds`: for a saved model, its newest version."""
    stems: dict[str, dict[str, Path]] = {}
    for child in sorted(folder.iterdir()):
        kind = KINDS_BY_SUFFIX.get(child.suffix.lower())
        if kind is None or not child.is_file():
            continue
        files = stems.setdefault(child.stem, {})
        if kind in files:
            raise ModelFormatError(f"{folder} holds two {kind} files named {child.stem}: {files[kind].name} and "
                                   f"{child.name}; name the file instead")
        files[kind] = child
    if not stems:
        raise ModelFormatError(f"no model file in {folder} (looked for {', '.join(sorted(KINDS_BY_SUFFIX))})")
    usable = {stem: files for stem, files in stems.items() if set(files) & set(kinds)}
    if not usable:
        held = ", ".join(file.name for files in stems.values() for file in files.values())
        raise ModelFormatError(f"{folder} holds {held}, not a model of kind {' or '.join(kinds)}")
    versions: dict[str, list[tuple[int, str]]] = {}
    for stem in usable:
        base, version = split_version(stem)
        versions.setdefault(base, []).append((version, stem))
    if len(versions) > 1 and model is not None and get_spec(model).file_stem in versions:
        versions = {base: found for base, found in versions.items() if base == get_spec(model).file_stem}
    if len(versions) > 1:
        listing = "; ".join(", ".join(file.name for _, stem in sorted(found) for file in usable[stem].values())
                            for found in versions.values())
        hint = (f"none is named {get_spec(model).file_stem}" if model is not None else
                "say which with model=<registry name> (files <model's file stem>.*, e.g. x3d_xs.pth)")
        raise ModelFormatError(f"{folder} holds more than one model ({listing}): {hint}, or name the file")
    (found,) = versions.values()
    # save() writes the .json last, so a version without one is unfinished (unless none has one).
    complete = [(version, stem) for version, stem in found if (folder / f"{stem}{METADATA_SUFFIX}").is_file()]
    return usable[max(complete or found)[1]]


def _open_weights(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    state = read_state_dict(path)
    metadata = metadata or _metadata_beside(path)
    name = metadata.model if metadata else PUBLISHED.get(path.name) or model  # checked against `model` below
    if name is None:
        holds = identify(state)
        guess = f"its keys are those of {' or '.join(holds)}" if holds else "its keys match no registry model"
        raise ModelFormatError(f"{path} has no metadata ({path.with_suffix(METADATA_SUFFIX).name} beside it) and "
                               f"{guess}; say which model it is (model=..., one of {', '.join(MODEL_SPECS)})")
    num_classes = checkpoint_classes(name, state)
    if num_classes is None:
        holds = [n for n in identify(state) if n != get_spec(name).name]
        also = f" (its keys are those of {' or '.join(holds)})" if holds else ""
        raise ModelFormatError(f"{path} is not a {get_spec(name).title} checkpoint: it has no classifier "
                               f"{' / '.join(_classifier_keys(name))}{also}")
    if metadata is None:
        metadata = ModelMetadata.for_spec(get_spec(name), _default_classes(num_classes, str(path)))
    network = build_model(metadata.model, num_classes=num_classes, frames=metadata.frames).eval()
    source = ModelSource("torch", metadata, path, network)
    _check_head(source, num_classes)
    load_state_dict(network, state, source=str(path))
    return source


def _open_onnx(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    onnx = require_package("onnx", f"reading {path}")
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise ModelFormatError(f"{path} is not an ONNX model ({type(err).__name__}: {err})") from None
    graph = proto.graph
    if not graph.node or len(graph.input) < 1 or len(graph.output) < 1:
        raise ModelFormatError(f"{path} is not an ONNX model: its graph has no nodes, inputs or outputs")
    metadata = metadata or onnx_metadata(proto, str(path)) or _metadata_beside(path)
    source = _require_metadata(ModelSource("onnx", metadata, path), path)
    _check_io(source, _onnx_dims(graph.input[0]), _onnx_dims(graph.output[0]), len(graph.input))
    return source


def _open_openvino(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    ov = require_package("openvino", f"reading {path}")
    try:
        ov_model = ov.Core().read_model(str(path))
    except RuntimeError as err:
        raise ModelFormatError(f"{path} is not an OpenVINO IR model ({_first_line(err)})") from None
    metadata = metadata or openvino_metadata(ov_model, str(path)) or _metadata_beside(path)
    source = _require_metadata(ModelSource("openvino", metadata, path), path)
    _check_io(source, _openvino_dims(ov_model.inputs[0]), _openvino_dims(ov_model.outputs[0]),
              len(ov_model.inputs))
    return source


def _open_tensorrt(path: Path, metadata: ModelMetadata | None, model: str | None) -> ModelSource:
    # The engine's shapes are checked when it is deserialized (that needs TensorRT and a GPU).
    return _require_metadata(ModelSource("tensorrt", metadata or _metadata_beside(path), path), path)


def _metadata_beside(path: Path) -> ModelMetadata | None:
    beside = path.with_suffix(METADATA_SUFFIX)
    return ModelMetadata.read_json(beside) if beside.is_file() else None


def _require_metadata(source: ModelSource, path: Path) -> ModelSource:
    if source.metadata is None:
        raise ModelFormatError(f"{path} carries no ar_core metadata and there is no "
                               f"{path.with_suffix(METADATA_SUFFIX).name} beside it: export it with `ar-core export` "
                               f"or pass metadata=ModelMetadata(...)")
    return source


def _default_classes(num_classes: int, what: str) -> list[str]:
    """Kinetics-400 names for a 400-class head; other class counts must come with metadata."""
    if num_classes != KINETICS_CLASSES:
        raise ModelFormatError(f"{what} has a {num_classes}-class head and no metadata naming its classes: "
                               f"pass metadata=ModelMetadata(...) or put a .json beside the weights")
    return list(kinetics400_labels())


def _classifier_keys(name: str) -> tuple[str, ...]:
    with torch.device("meta"):  # the names only: no memory, no initialisation
        return classifier_keys(build_model(name))


def _network_classes(network: nn.Module) -> int | None:
    return getattr(network, "num_classes", None)


def _check_head(source: ModelSource, num_classes: int | None) -> None:
    if num_classes is not None and num_classes != source.metadata.num_classes:
        raise ModelFormatError(f"{source.name} has a {num_classes}-class head but its metadata lists "
                               f"{source.metadata.num_classes} class names")


def _check_model_name(source: ModelSource, model: str | None) -> None:
    if model is not None and get_spec(model).name != source.metadata.model:
        raise ModelFormatError(f"{source.name} holds {get_spec(source.metadata.model).title}, "
                               f"not {get_spec(model).title} as requested")


def _check_io(source: ModelSource, input_dims: list, output_dims: list, inputs: int = 1) -> None:
    """Fixed dims of the file must match the metadata; named (dynamic) dims match anything."""
    stream = source.metadata.stream
    expected = (None, *(source.metadata.input_shape if stream is None else source.metadata.frame_shape))
    if len(input_dims) != len(expected) or any(isinstance(d, int) and e is not None and d != e
                                               for d, e in zip(input_dims, expected)):
        raise ModelFormatError(f"{source.name}: its input is {_shape_text(input_dims)} but its metadata says "
                               f"{'clips' if stream is None else 'frames'} of {_shape_text(list(expected))}")
    expected_inputs = 1 if stream is None else 1 + len(stream.state_shapes)  # clips, or frame and states
    if inputs != expected_inputs:
        raise ModelFormatError(f"{source.name} has {inputs} inputs but its metadata says "
                               f"{'a clip model' if stream is None else 'a stream step'} of {expected_inputs}")
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


def _with_inference(source: ModelSource, inference: str | None, pool_frames: int | None) -> ModelSource:
    """The source for clip or stream inference: a torch network becomes its continual step on request."""
    if inference is not None and inference not in INFERENCE_MODES:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE_MODES)}, got {inference!r}")
    stream = source.metadata.stream
    if stream is not None:  # a stream export (or metadata= saying one)
        if inference == "clip":
            raise ModelFormatError(f"{source.name} is a stream model (one frame per step): it cannot run clips; "
                                   f"use the clip model's files")
        if pool_frames is not None and pool_frames != stream.pool_frames:
            raise ModelFormatError(f"{source.name} was exported with a {stream.pool_frames}-frame pool; "
                                   f"pool_frames={pool_frames} needs a new export (ar-core export --inference "
                                   f"stream --pool-frames {pool_frames})")
        if source.kind == "torch" and not isinstance(source.module, StreamingX3D):  # weights with stream metadata
            streaming = to_streaming(source.module, stream.pool_frames)
            if stream_metadata(source.metadata, streaming) != source.metadata:
                raise ModelFormatError(f"{source.name}: its stream metadata does not match the network's states")
            return ModelSource("torch", source.metadata, source.path, streaming)
        return source
    if inference != "stream":
        if pool_frames is not None:
            raise ValueError(f"pool_frames={pool_frames} applies to stream inference (inference='stream') only")
        return source
    if source.kind != "torch":
        raise ModelFormatError(f"{source.name} is a clip export; stream inference needs the torch weights or an "
                               f"export made with `ar-core export --inference stream`")
    streaming = to_streaming(source.module, pool_frames)
    return ModelSource("torch", stream_metadata(source.metadata, streaming), source.path, streaming)


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
