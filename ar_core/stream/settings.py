"""The stream settings schema: every setting of the frame path, declared once.

Generated from it: the node's ROS parameters (ar_ros.activity_node: descriptions, read-only flags, the checks of
its set-parameters callback), the flags of every command that streams (`ar-core infer`, `bag-eval`,
`bag-replay`), and the reading of params files (config/x3d_<model>.yaml). Each setting names the callers that use
it; a caller's flags and `--help` show only those, and it skips the others' keys in a params file.
"""
from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..devices import DEVICE_HELP
from ..models import MODEL_SPECS
from ..runtime import BACKEND_NAMES

NODE, INFER, BAG_EVAL, BAG_REPLAY, EXPORT = "node", "infer", "bag-eval", "bag-replay", "export"
CALLERS = (NODE, INFER, BAG_EVAL, BAG_REPLAY, EXPORT)
PREDICTING = (NODE, INFER, BAG_EVAL, BAG_REPLAY)  # the callers that run the frame path
ROS_PARAMETERS = ("use_sim_time",)  # rclpy's own parameters: allowed in a params file, not ours to read
DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class SettingsError(ValueError):
    """A setting that is unknown or has a bad value; the message names the key and where it came from."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: bool | int | float | str
    description: str
    runtime: bool = False  # may change while running (node parameter callback, ActivityStream.update)
    callers: tuple[str, ...] = PREDICTING
    choices: tuple[str, ...] | None = None
    minimum: float | None = None

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """`value` as this setting's type (an int is a valid float), or SettingsError saying why not."""
        kind = self.type
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SettingsError(f"{self.name} must be a {kind.__name__}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise SettingsError(f"{self.name} must be one of {', '.join(self.choices)}; got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"{self.name} must be >= {self.minimum:g}, got {value!r}")
        if self.name == "device" and not DEVICE_PATTERN.match(value):
            raise SettingsError(f"device must be {DEVICE_HELP}; got {value!r}")
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting("model", "xs", "model name from the registry: " + ", ".join(MODEL_SPECS), choices=tuple(MODEL_SPECS)),
    Setting("weights", "", "weights (.pth/.pyth), a folder written by save() or of official checkpoints, its .json, "
                           "or an exported model (.onnx/.xml/.engine); empty: the official checkpoint for `model` "
                           "from the download cache (ar-core download)"),
    Setting("backend", "torch", "inference runtime: " + ", ".join(BACKEND_NAMES), choices=tuple(BACKEND_NAMES)),
    Setting("device", "auto", DEVICE_HELP),
    Setting("labels", "", "class-name file (one per line); empty: the model's own class names"),
    Setting("inference", "clip", "clip: the model on the last clip every `hop` samples; stream: a continual step on "
                                 "every sampled frame (CoX3D), published every `hop` steps once warm",
            callers=(*PREDICTING, EXPORT), choices=("clip", "stream")),
    Setting("pool_frames", 0, "stream: frames of the final temporal pool (0: the model's clip length, or what a "
                              "stream export says)", callers=(*PREDICTING, EXPORT), minimum=0),
    Setting("num_threads", 0, "CPU threads for inference (0: the runtime's default)", minimum=0),
    Setting("top_k", 5, "classes listed per prediction", runtime=True, minimum=1),
    Setting("score_threshold", 0.0, "classes scoring below this are left out", runtime=True, minimum=0.0),
    Setting("hop", 1, "a prediction every `hop` sampled frames (the spacing of prediction windows)", runtime=True,
            minimum=1),
    Setting("smoothing", 1, "average scores over the last N predictions (1: no smoothing)", runtime=True, minimum=1),
    Setting("max_rate_hz", 0.0, "at most this many predictions per second of camera time (0: no limit)",
            runtime=True, minimum=0.0),
    Setting("image_transport", "raw", "raw (sensor_msgs/Image on `image`) or compressed (`image/compressed`)",
            callers=(NODE,), choices=("raw", "compressed")),
    Setting("qos_reliability", "best_effort", "image subscription reliability: best_effort (sensor data) or "
                                              "reliable", callers=(NODE,), choices=("best_effort", "reliable")),
    Setting("autostart", True, "configure and activate on start, without a lifecycle manager", callers=(NODE,)),
)


def settings_for(caller: str) -> tuple[Setting, ...]:
    """The settings `caller` uses, in schema order."""
    if caller not in CALLERS:
        raise ValueError(f"unknown caller {caller!r}; callers: {', '.join(CALLERS)}")
    return tuple(s for s in SETTINGS if caller in s.callers)


def get_setting(name: str) -> Setting:
    for setting in SETTINGS:
        if setting.name == name:
            return setting
    raise SettingsError(f"unknown setting {name!r}; settings: {', '.join(s.name for s in SETTINGS)}")


class StreamSettings(Mapping):
    """Checked values of the settings one caller uses (attribute or key access), and where they came from."""

    def __init__(self, caller: str, values: Mapping[str, Any] | None = None, source: str = ""):
        used = {s.name: s for s in settings_for(caller)}
        merged = {name: s.default for name, s in used.items()}
        for name, value in (values or {}).items():
            if name not in used:
                raise SettingsError(f"{name} is not a setting of {caller} (its settings: {', '.join(used)})")
            merged[name] = used[name].check(value)
        self.__dict__.update(_caller=caller, _values=merged, source=source)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"{self._caller} has no setting {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("StreamSettings are immutable: use replace() or ActivityStream.update()")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"StreamSettings({self._caller!r}, {self._values!r})"

    def replace(self, **changes: Any) -> StreamSettings:
        return StreamSettings(self._caller, {**self._values, **changes}, self.source)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)


def load_settings(caller: str, params_file: str | os.PathLike | None = None,
                  overrides: Mapping[str, Any] | None = None) -> StreamSettings:
    """Defaults, then the params file's values for `caller`, then `overrides` that are not None (flags)."""
    values: dict[str, Any] = {}
    used = {s.name for s in settings_for(caller)}
    if params_file:
        values = {name: value for name, value in read_params_file(params_file).items() if name in used}
    values.update({name: os.fspath(value) if isinstance(value, os.PathLike) else value
                   for name, value in (overrides or {}).items() if value is not None})
    return StreamSettings(caller, values, source=str(params_file or ""))


def read_params_file(path: str | os.PathLike) -> dict[str, Any]:
    """The checked `ros__parameters` of a ROS 2 params file (`/**:` or node-name sections, merged in file order).
    An unknown key or a bad value names the key, the file and its line."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"params file not found: {path}")
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise SettingsError(f"{path}: not valid YAML ({err})") from None
    sections: list[yaml.MappingNode] = []
    for _, entry in root.value if isinstance(root, yaml.MappingNode) else []:
        if isinstance(entry, yaml.MappingNode):
            sections += [inner for key, inner in entry.value
                         if key.value == "ros__parameters" and isinstance(inner, yaml.MappingNode)]
    if not sections:
        raise SettingsError(f"{path}: no ros__parameters section (expected /**: ros__parameters: {{model: xs, ...}})")
    known = {s.name: s for s in SETTINGS}
    values: dict[str, Any] = {}
    for section in sections:
        for key_node, value_node in section.value:
            name, where = key_node.value, f"{path}:{key_node.start_mark.line + 1}"
            if name in ROS_PARAMETERS:
                continue
            if name not in known:
                raise SettingsError(f"{where}: unknown parameter {name!r} (parameters: {', '.join(known)})")
            try:
                values[name] = known[name].check(yaml.safe_load(yaml.serialize(value_node)))
            except SettingsError as err:
                raise SettingsError(f"{where}: {err}") from None
    return values


def add_arguments(parser: argparse.ArgumentParser, caller: str, params_file: bool = True) -> None:
    """One flag per setting `caller` uses (default: the params file's value, else the schema's), and with
    `params_file` a `--params FILE` they override."""
    group = parser.add_argument_group("stream settings (the node's parameters" +
                                      ("; flags override --params)" if params_file else ")"))
    if params_file:
        group.add_argument("--params", metavar="YAML",
                           help="the node's params file (config/x3d_<model>.yaml); the flags below override it")
    for setting in settings_for(caller):
        if setting.type is bool:
            group.add_argument(setting.flag, dest=setting.name, action=argparse.BooleanOptionalAction,
                               default=None, help=f"{setting.description} (default: {setting.default})")
        else:
            group.add_argument(setting.flag, dest=setting.name, type=setting.type, default=None,
                               choices=setting.choices, metavar=None if setting.choices else setting.type.__name__.upper(),
                               help=f"{setting.description} (default: {setting.default!r})")


def from_arguments(args: argparse.Namespace, caller: str) -> StreamSettings:
    """The settings given by `add_arguments`' flags, over the --params file (if any), over the defaults."""
    return load_settings(caller, getattr(args, "params", None),
                         {s.name: getattr(args, s.name) for s in settings_for(caller)})


def ros_arguments(settings: Mapping[str, Any]) -> list[str]:
    """`-p name:=value` for each setting, typed as a params file would write them."""
    args: list[str] = []
    for name, value in settings.items():
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, str):  # quoted, so ROS reads "1" or "" as the string parameter it is
            text = "'" + value.replace("'", "''") + "'"
        else:
            text = repr(value)
        args += ["-p", f"{name}:={text}"]
    return args
