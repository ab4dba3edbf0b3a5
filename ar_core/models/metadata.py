"""What a trained model needs next to its weights to be used: size, class names and the input it expects.

Every exported file carries this (ONNX `metadata_props`, OpenVINO `rt_info`, or `<stem>.json` beside a
weights file or TensorRT engine), so an engine can be created from the file alone.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..version import __version__
from ..atomic import atomic_path
from .registry import MODEL_SPECS
from .specs import ModelSpec, sample_interval_s

MIN_CROP = 8
REQUIRED_FIELDS = ("model", "classes", "frames", "sampling_rate", "crop", "mean", "std")
INFERENCE_MODES = ("clip", "stream")  # a clip per prediction, or one frame per step (models.streaming)


class MetadataError(ValueError):
    """Model metadata that is missing, malformed or inconsistent; the message names the source and field."""


@dataclass(frozen=True)
class StreamInfo:
    """What a stream model's step needs besides the frame: its pool, its warm-up and its states."""

    pool_frames: int  # frames the head's sliding average covers
    warmup_frames: int  # outputs of the first steps after a (re)start to discard
    receptive_field: int  # frames that influence one output
    state_names: list[str]  # state k is the step's input state_in_<k> and output state_out_<k>
    state_shapes: list[tuple[int, ...]]  # each state's shape without the batch axis

    def __post_init__(self) -> None:
        object.__setattr__(self, "state_names", list(self.state_names))
        object.__setattr__(self, "state_shapes", [tuple(shape) for shape in self.state_shapes])
        for name in ("pool_frames", "warmup_frames", "receptive_field"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "warmup_frames" else 1):
                raise MetadataError(f"field 'stream.{name}' must be a positive integer, got {value!r:.80}")
        if len(self.state_names) != len(self.state_shapes) or not all(
                isinstance(d, int) and d >= 0 for shape in self.state_shapes for d in shape):
            raise MetadataError("field 'stream' must list as many state names as state shapes (of integers)")


@dataclass(frozen=True)
class ModelMetadata:
    model: str  # X3D size: xs | s | m | l
    classes: list[str]  # output column i is classes[i]
    frames: int  # clip length T
    sampling_rate: int  # every n-th frame of a 30 fps video (specs.RECIPE_FPS)
    crop: int  # clips are (3, frames, crop, crop)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    ar_core_version: str = __version__
    extra: dict = field(default_factory=dict)  # free-form: quantization, training run, ...
    inference: str = "clip"  # clip | stream (a step per frame: `stream` says its states)
    stream: StreamInfo | None = None

    def __post_init__(self) -> None:
        # Normalise what JSON and callers hand in (tuples of names, lists of numbers) to one form.
        if isinstance(self.classes, (list, tuple)):
            object.__setattr__(self, "classes", list(self.classes))
        if isinstance(self.stream, Mapping):
            try:
                object.__setattr__(self, "stream", StreamInfo(**self.stream))
            except TypeError as err:
                raise MetadataError(f"field 'stream' is malformed ({err})") from None
        for name in ("mean", "std"):
            object.__setattr__(self, name, _triple(getattr(self, name), name))
        _validate(self)

    @classmethod
    def for_spec(cls, spec: ModelSpec, classes: Sequence[str], crop: int | None = None) -> "ModelMetadata":
        """Metadata for a model of `spec`'s size, evaluated at `crop` (default: the spec's test crop)."""
        return cls(spec.name, list(classes), spec.frames, spec.sampling_rate, crop or spec.test_crop, spec.mean,
                   spec.std)

    @property
    def title(self) -> str:
        """The model as people write it: X3D-XS, R(2+1)D-18."""
        return MODEL_SPECS[self.model].title

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def interval_s(self) -> float:
        """Seconds between the frames of a clip."""
        return sample_interval_s(self.sampling_rate)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """One clip: (channels, frames, height, width)."""
        return 3, self.frames, self.crop, self.crop

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """One frame of a stream model's step: (channels, height, width)."""
        return 3, self.crop, self.crop

    def replace(self, **changes) -> "ModelMetadata":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        if self.inference == "clip":  # clip files stay as they were, readable by earlier versions
            del data["inference"], data["stream"]
        else:
            data["stream"]["state_shapes"] = [list(shape) for shape in self.stream.state_shapes]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "metadata") -> "ModelMetadata":
        """Build from a mapping (e.g. parsed JSON); errors name `source` and the offending field."""
        if not isinstance(data, Mapping):
            raise MetadataError(f"{source}: expected a JSON object, got {type(data).__name__}")
        missing = [name for name in REQUIRED_FIELDS if name not in data]
        if missing:
            raise MetadataError(f"{source}: missing field(s) {', '.join(missing)}")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise MetadataError(f"{source}: unknown field(s) {', '.join(unknown)}")
        try:
            return cls(**data)
        except MetadataError as err:
            raise MetadataError(f"{source}: {err}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "metadata") -> "ModelMetadata":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise MetadataError(f"{source}: not valid JSON ({err})") from None
        return cls.from_dict(data, source)

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write atomically: readers see the old file or the whole new one."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def read_json(cls, path: str | os.PathLike) -> "ModelMetadata":
        path = Path(path)
        if not path.is_file():
            raise MetadataError(f"metadata file not found: {path}")
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))


def _triple(value: object, name: str) -> tuple[float, float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3 \
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise MetadataError(f"field {name!r} must be three numbers (R, G, B), got {value!r:.80}")
    return tuple(float(v) for v in value)


def _validate(m: ModelMetadata) -> None:
    def fail(name: str, rule: str) -> None:
        raise MetadataError(f"field {name!r} {rule}, got {getattr(m, name)!r:.80}")

    if m.model not in MODEL_SPECS:
        fail("model", f"must be one of {', '.join(MODEL_SPECS)}")
    if not isinstance(m.classes, list) or not m.classes or not all(isinstance(c, str) and c for c in m.classes):
        fail("classes", "must be a non-empty list of non-empty names")
    if len(set(m.classes)) != len(m.classes):
        fail("classes", "must not repeat names")
    for name, low in (("frames", 1), ("sampling_rate", 1), ("crop", MIN_CROP)):
        value = getattr(m, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            fail(name, f"must be an integer >= {low}")
    if any(s <= 0 for s in m.std):
        fail("std", "must be positive")
    if not isinstance(m.extra, dict):
        fail("extra", "must be a JSON object")
    if m.inference not in INFERENCE_MODES:
        fail("inference", f"must be one of {', '.join(INFERENCE_MODES)}")
    if (m.inference == "stream") != isinstance(m.stream, StreamInfo):
        fail("stream", "must describe the states exactly when inference is 'stream'")
