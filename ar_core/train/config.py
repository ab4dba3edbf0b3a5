"""The one training/evaluation configuration: a dataclass read from YAML and command-line flags, checked here.

Field names follow the OpenDR X3DLearner (`iters` counts epochs, `temp_path` is the run directory) except
`model` (a model name, which X3DLearner's OpenDR signature calls `backbone`) and `labels`, the project's names.
docs/vocabulary.md maps the names of OpenDR, OTX, SlowFast and MindSpore to these.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..devices import DEVICE_HELP
from ..models import MODEL_SPECS, ModelSpec, get_spec
from .optim import LR_SCHEDULES, OPTIMIZERS

DATASETS = ("synthetic", "kinetics", "ucf101", "hmdb51", "rawframes", "list", "cvat", "folder")
AMP_MODES = ("off", "bf16", "fp16")


class ConfigError(ValueError):
    """A configuration key or value that cannot be used; the message names the key and the source."""


# Which `ar-core` subcommands read a key: each shows only its own keys as flags. A key no command reads is set
# from YAML or the Python API (X3DLearner) only.
BOTH: tuple[str, ...] = ("train", "eval")
TRAIN: tuple[str, ...] = ("train",)
EVAL: tuple[str, ...] = ("eval",)
API_ONLY: tuple[str, ...] = ()


def _field(default: Any, help: str, used_by: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"help": help, "used_by": used_by})


@dataclass
class TrainConfig:
    # Model
    model: str = _field("xs", f"model name from the registry: {' | '.join(MODEL_SPECS)} (`ar-core info` lists "
                              f"their inputs and figures)", BOTH)
    network_head: str = _field("classification", "head type (only classification)", TRAIN)
    num_classes: int = _field(400, "classes of the head (ar-core takes them from the data set or the weights)",
                              API_ONLY)
    pretrained: str = _field("", "weights to start from: a .pth/.pyth file, or 'kinetics' for the cached official "
                                 "checkpoint of this model (see `ar-core download`); empty: random init", BOTH)
    frames: int = _field(0, "clip length in frames (SlowFast DATA.NUM_FRAMES; 0: the model's recipe, e.g. 4 for xs); "
                            "saved in the model's metadata, so infer, export and the node use it too", BOTH)
    sampling_rate: int = _field(0, "take every n-th frame of a 30 fps video (SlowFast DATA.SAMPLING_RATE; 0: the "
                                    "model's recipe, e.g. 12 for xs)", BOTH)
    dropout_rate: float = _field(0.5, "dropout before the classifier (SlowFast MODEL.DROPOUT_RATE; torchvision's "
                                      "video ResNets and OTE's MobileNetV3 heads train with 0)", TRAIN)
    # Optimisation
    iters: int = _field(10, "training epochs (OpenDR calls them iters)", TRAIN)
    batch_size: int = _field(64, "global batch size in clips, split evenly over the processes of a torchrun job",
                             BOTH)
    eval_batch_size: int = _field(0, "global batch size in clips of validation and eval (SlowFast TEST.BATCH_SIZE; "
                                     "0: batch_size)", BOTH)
    lr: float = _field(1e-3, "base learning rate", TRAIN)
    optimizer: str = _field("adam", "sgd | adam", TRAIN)
    momentum: float = _field(0.9, "SGD momentum", TRAIN)
    weight_decay: float = _field(1e-5, "L2 weight decay of convolutions and linear layers", TRAIN)
    bn_weight_decay: float = _field(0.0, "weight decay of BatchNorm scales and shifts", TRAIN)
    lr_schedule: str = _field("", "cosine (decay to eta_min over the run) or '' (constant)", TRAIN)
    eta_min: float = _field(0.0, "cosine: the learning rate at the run's end (SlowFast SOLVER.COSINE_END_LR)",
                            TRAIN)
    warmup_epochs: float = _field(0.0, "linear warm-up length in epochs (may be fractional)", TRAIN)
    warmup_start_lr: float = _field(0.0, "learning rate at the first warm-up step", TRAIN)
    grad_clip: float = _field(0.0, "clip the gradient norm to this value (0: off)", TRAIN)
    amp: str = _field("off", "mixed precision: off | bf16 | fp16 (fp16 uses a GradScaler)", TRAIN)
    loss: str = _field("cross_entropy", "training loss (only cross_entropy)", TRAIN)
    seed: int = _field(123, "seed of initialisation, data order, augmentation and synthetic clips", BOTH)
    device: str = _field("auto", f"{DEVICE_HELP}; under torchrun each process takes cuda:LOCAL_RANK", BOTH)
    # Data
    dataset: str = _field("synthetic", f"data set: {' | '.join(DATASETS)} (kinetics: the official CSV, "
                                       "MindSpore's or OpenDR's layout; list/rawframes: mmaction2 <video> <label> "
                                       "or <rawframe_dir> <num_frames> <label> lines, or OTE's 7-field lines; "
                                       "cvat: OTX's <root>/Video_N/annotations.xml + images/; folder: class "
                                       "folders of videos)", BOTH)
    data_root: str = _field("", "videos (kinetics, ucf101, hmdb51), the root the lines of annotations are "
                                "relative to (list, rawframes), Video_N folders (cvat) or class folders of training "
                                "videos (folder); list/rawframes/cvat: several comma-separated, paired by position "
                                "with annotations", BOTH)
    val_root: str = _field("", "the data_root of validation and eval (list, rawframes, cvat: default data_root; "
                               "folder: class folders of validation videos); comma-separated like data_root", BOTH)
    annotations: str = _field("", "kinetics: annotation CSV or OpenDR JSON (empty: found under data_root); "
                                  "list/rawframes: training list file(s), comma-separated", BOTH)
    val_annotations: str = _field("", "kinetics: validation CSV (default: annotations); list/rawframes: "
                                      "validation list file(s), comma-separated", BOTH)
    train_split: str = _field("train", "kinetics: split column value of training rows", TRAIN)
    val_split: str = _field("val", "kinetics: split column value of validation rows", BOTH)
    splits_dir: str = _field("", "ucf101/hmdb51: folder of the official split files", BOTH)
    split: int = _field(1, "ucf101/hmdb51: split number 1-3", BOTH)
    labels: str = _field("", "kinetics/list/rawframes/cvat: class-name file, one a line (its order is the label "
                             "order; list default: class_<id>, cvat default: the XMLs' labels sorted)", BOTH)
    frame_template: str = _field("", "list/rawframes/cvat: frame file name with a {} for the frame number, e.g. "
                                     "img_{:05d}.jpg ('': detected per folder: img_00001.jpg, 00001.jpg, "
                                     "frame_000001.png, ...)", BOTH)
    synthetic_samples: int = _field(1024, "synthetic: training clips", TRAIN)
    synthetic_val_samples: int = _field(256, "synthetic: validation clips", BOTH)
    synthetic_classes: int = _field(4, "synthetic: motion classes (2-8)", BOTH)
    crop: int = _field(0, "training/validation crop in pixels (0: the model's recipe crop)", BOTH)
    test_clips: int = _field(10, "temporal clips per video (SlowFast's 30-view test: 10 clips x 3 crops)", EVAL)
    test_crops: int = _field(3, "spatial crops per clip", EVAL)
    num_workers: int = _field(0, "DataLoader worker processes", BOTH)
    pin_memory: bool = _field(False, "pin host memory of batches (CUDA)", BOTH)
    drop_last: bool = _field(True, "drop each epoch's last incomplete batch", TRAIN)
    # Run directory, checkpoints and logging
    temp_path: str = _field("", "run directory: checkpoints/, tensorboard/, saved model ('' : no files)", TRAIN)
    checkpoint_after_iter: int = _field(0, "save a resumable checkpoint every N iterations (0: off)", TRAIN)
    checkpoint_every_epochs: int = _field(0, "save a resumable checkpoint at the end of every N-th epoch (SlowFast "
                                             "TRAIN.CHECKPOINT_PERIOD; 0: off)", TRAIN)
    keep_checkpoints: int = _field(0, "keep only the newest N checkpoints, deleting older ones after each save "
                                      "(0: keep all)", TRAIN)
    checkpoint_load_iter: int = _field(0, "resume from the checkpoint of iteration N in temp_path (0: start fresh)",
                                       TRAIN)
    log_every: int = _field(10, "iterations between TensorBoard scalars and progress-bar updates", TRAIN)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        choices = {"model": tuple(MODEL_SPECS), "network_head": ("classification",), "optimizer": OPTIMIZERS,
                   "lr_schedule": LR_SCHEDULES, "amp": AMP_MODES, "loss": ("cross_entropy",), "dataset": DATASETS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}: {getattr(self, name)!r} is not one of "
                                  f"{', '.join(repr(a) for a in allowed)}")
        for name in ("num_classes", "iters", "batch_size", "synthetic_samples", "synthetic_val_samples",
                     "test_clips", "test_crops", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "momentum", "weight_decay", "bn_weight_decay", "warmup_epochs", "warmup_start_lr",
                     "grad_clip", "crop", "num_workers", "checkpoint_after_iter", "checkpoint_load_iter",
                     "frames", "sampling_rate", "dropout_rate", "eta_min", "checkpoint_every_epochs",
                     "keep_checkpoints", "eval_batch_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must not be negative, got {getattr(self, name)}")
        if self.dropout_rate >= 1:
            raise ConfigError(f"dropout_rate: must be below 1 (a probability), got {self.dropout_rate}")
        if self.eta_min > self.lr:
            raise ConfigError(f"eta_min: {self.eta_min} is above lr {self.lr}; the cosine schedule decays to it")
        if not 2 <= self.synthetic_classes <= 8:
            raise ConfigError(f"synthetic_classes: must be between 2 and 8, got {self.synthetic_classes}")
        if self.checkpoint_load_iter and not self.temp_path:
            raise ConfigError("checkpoint_load_iter: needs temp_path, the run directory holding the checkpoints")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def eval_batch(self) -> int:
        """Global batch size in clips of validation and eval: eval_batch_size, or batch_size when it is 0."""
        return self.eval_batch_size or self.batch_size

    @property
    def spec(self) -> ModelSpec:
        """The model's spec with this run's `frames` and `sampling_rate`: what data sets, the network and the
        saved metadata are built from."""
        return get_spec(self.model).with_input(self.frames, self.sampling_rate)

    def replace(self, **changes: Any) -> TrainConfig:
        return from_mapping({**self.to_dict(), **changes})


class Key(NamedTuple):
    type: type
    default: Any
    help: str
    used_by: tuple[str, ...]  # the `ar-core` subcommands that read it


def config_keys() -> dict[str, Key]:
    """name -> Key of every TrainConfig field, for checking values and building command-line flags."""
    types = {"str": str, "int": int, "float": float, "bool": bool}
    return {f.name: Key(types[f.type], f.default, f.metadata["help"], f.metadata["used_by"])
            for f in dataclasses.fields(TrainConfig)}


def from_mapping(values: dict[str, Any], source: str = "config") -> TrainConfig:
    """A TrainConfig from plain values; unknown keys and values of the wrong type are named."""
    known = config_keys()
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} (valid keys: {', '.join(known)})")
    checked = {}
    for name, value in values.items():
        kind = known[name].type
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{source}: {name} must be {kind.__name__}, got {value!r}")
        checked[name] = value
    try:
        return TrainConfig(**checked)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def load_config(path: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the YAML file's keys, then `overrides` (e.g. command-line flags)."""
    import yaml

    values: dict[str, Any] = {}
    source = "config"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of keys to values, got {type(loaded).__name__}")
        values, source = loaded, str(path)
    values = {**values, **(overrides or {})}
    return from_mapping(values, source)


# The keys build_dataset reads to find a data set (not how clips are cut: an exported model fixes that). `ar-core
# export --int8` takes these, so it calibrates on the data `train` was given, in any layout.
DATA_KEYS = ("dataset", "data_root", "val_root", "annotations", "val_annotations", "train_split", "val_split",
             "splits_dir", "split", "labels", "frame_template", "synthetic_samples", "synthetic_val_samples",
             "synthetic_classes", "seed")


def add_config_flags(parser: argparse.ArgumentParser, command: str, keys: tuple[str, ...] | None = None) -> None:
    """--config YAML and one flag per key that `command` reads (--batch-size 16, --pin-memory / --no-pin-memory);
    `keys` (e.g. DATA_KEYS): these keys instead."""
    parser.add_argument("--config", metavar="YAML", help="config file (config/train/x3d_<model>.yaml); the flags "
                                                         "below override its keys, keys this command does not "
                                                         "read are accepted and ignored")
    group = parser.add_argument_group("configuration keys (YAML keys, overridable here)")
    for name, key in config_keys().items():
        if (command not in key.used_by) if keys is None else (name not in keys):
            continue
        flag = "--" + name.replace("_", "-")
        if key.type is bool:
            group.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"{key.help} (default: {key.default})")
        else:
            group.add_argument(flag, dest=name, type=key.type, default=None, metavar=key.type.__name__.upper(),
                               help=f"{key.help} (default: {key.default!r})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The YAML file named by --config with the flags given on the command line applied over it."""
    overrides = {name: getattr(args, name) for name in config_keys() if getattr(args, name, None) is not None}
    return load_config(args.config, overrides)
