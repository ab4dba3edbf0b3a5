"""X3DLearner: train, evaluate, save, load, optimize and run X3D with the API of the OpenDR X3D learner.

    learner = X3DLearner(backbone="xs", device="cpu", num_classes=4, lr=0.1, optimizer="sgd")
    learner.fit(train_set, val_set, epochs=5)
    learner.eval(val_set)            # {"loss", "top1", "top5", "per_class_accuracy", "confusion", ...}
    learner.save("runs/motion")      # runs/motion/x3d_xs.pth + x3d_xs.json
    learner.optimize()               # ONNX Runtime for infer()
    learner.infer(clips)             # [Category(class_id, name, confidence), ...]
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..atomic import atomic_path
from ..labels import kinetics400_labels
from ..models import KINETICS_CLASSES, build_model, get_spec, load_checkpoint, load_state_dict, read_state_dict
from ..models.checkpoints import HEAD_KEYS, CheckpointError
from ..models.metadata import ModelMetadata
from .checkpointing import find_checkpoint
from .config import ConfigError, TrainConfig, from_mapping
from .distributed import setup_distributed

log = logging.getLogger(__name__)

WEIGHTS_SUFFIXES = (".pth", ".pyth", ".pt")
VERSIONED = re.compile(r"^(?P<base>.+?)(?:_(?P<version>\d+))?$")


@dataclass(frozen=True)
class Category:
    """One prediction: the class index, its name and its probability."""

    class_id: int
    name: str
    confidence: float


def default_classes(num_classes: int) -> list[str]:
    return list(kinetics400_labels()) if num_classes == KINETICS_CLASSES else [f"class_{i}" for i in
                                                                               range(num_classes)]


def resolve_device(device: str) -> str:
    """'auto' picks CUDA when present; asking for CUDA where there is none is an error, not a silent fallback."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} requested but CUDA is not available here; use device='cpu'")
    return device


class X3DLearner:
    """Every keyword is a TrainConfig field (see `ar-core train --help`); the OpenDR ones are spelled out."""

    def __init__(self, lr: float = 1e-3, iters: int = 10, batch_size: int = 64, optimizer: str = "adam",
                 lr_schedule: str = "", backbone: str = "s", network_head: str = "classification",
                 checkpoint_after_iter: int = 0, checkpoint_load_iter: int = 0, temp_path: str = "",
                 device: str = "cuda", loss: str = "cross_entropy", weight_decay: float = 1e-5,
                 momentum: float = 0.9, drop_last: bool = True, pin_memory: bool = False, num_workers: int = 0,
                 seed: int = 123, num_classes: int = 400, **extra):
        options = dict(lr=lr, iters=iters, batch_size=batch_size, optimizer=optimizer, lr_schedule=lr_schedule,
                       backbone=get_spec(backbone).name, network_head=network_head,
                       checkpoint_after_iter=checkpoint_after_iter, checkpoint_load_iter=checkpoint_load_iter,
                       temp_path=str(temp_path), device=device, loss=loss, weight_decay=weight_decay,
                       momentum=momentum, drop_last=drop_last, pin_memory=pin_memory, num_workers=num_workers,
                       seed=seed, num_classes=num_classes)
        self._setup(from_mapping({**options, **extra}, source="X3DLearner"))

    @classmethod
    def from_config(cls, config: TrainConfig) -> X3DLearner:
        learner = cls.__new__(cls)
        learner._setup(config)
        return learner

    def _setup(self, config: TrainConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.spec = get_spec(config.backbone)
        torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
        self.model = build_model(self.spec.name, config.num_classes)
        self.classes = default_classes(config.num_classes)
        self.engine = None  # the fast runtime, after optimize()
        self.onnx_path: Path | None = None
        if config.pretrained:
            self._load_pretrained(config.pretrained)

    @property
    def crop(self) -> int:
        """The crop clips are given at for inference and export."""
        return self.config.crop or self.spec.test_crop

    # -- training and evaluation ------------------------------------------------------------------------

    def fit(self, dataset: Dataset, val_dataset: Dataset | None = None, epochs: int | None = None,
            steps: int | None = None) -> dict:
        """Train for `epochs` (default: iters) epochs, stopping early after `steps` iterations if given.

        Returns {"iterations", "epochs", "train_loss", "val" (the last validation summary), "history" (one
        summary per epoch: epoch, iteration, elapsed_s since this call began, val_loss, val_top1, val_top5,
        val_mean_class_accuracy), "skipped" ([path, reason] of unreadable videos)}.
        """
        from .loop import Trainer

        self._adopt_classes(dataset)
        ctx, device = setup_distributed(self.device)
        resume_from = None
        if self.config.checkpoint_load_iter:
            resume_from = find_checkpoint(self.config.temp_path, self.config.checkpoint_load_iter)
        trainer = Trainer(self.model, self.config, self.classes, device, ctx)
        result = trainer.fit(dataset, val_dataset, epochs or self.config.iters, steps, resume_from)
        self._drop_engine()  # the weights changed
        return result

    def eval(self, dataset: Dataset, steps: int | None = None) -> dict:
        """Metrics over `dataset` (at most `steps` batches): loss (NLL of the predicted probabilities), top1, top5,
        mean_class_accuracy, per_class_accuracy, confusion, classes, samples, skipped."""
        from ..eval.evaluator import evaluate

        classes = list(getattr(dataset, "classes", self.classes))
        if len(classes) != len(self.classes):
            raise ValueError(f"the data set has {len(classes)} classes, the model {len(self.classes)}")
        if classes != self.classes:
            log.warning("the data set's class names differ from the model's; scoring by index, reporting the "
                        "model's names (first difference: %r vs %r)",
                        *next((a, b) for a, b in zip(classes, self.classes) if a != b))
        ctx, device = setup_distributed(self.device)
        return evaluate(self._predictor(device), dataset, self.classes, self.config.batch_size // ctx.world_size,
                        device, ctx, max_batches=steps, num_workers=self.config.num_workers,
                        pin_memory=self.config.pin_memory)

    def infer(self, batch: torch.Tensor | np.ndarray) -> list[Category]:
        """The most probable class of each clip of a (B, 3, T, S, S) batch, or of one (3, T, S, S) clip."""
        confidence, index = self.probabilities(batch).max(dim=1)
        return [Category(int(i), self.classes[int(i)], float(c)) for i, c in zip(index, confidence)]

    def probabilities(self, batch: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Class probabilities (B, classes) on the CPU for a (B, 3, T, S, S) batch or one (3, T, S, S) clip."""
        clips = torch.as_tensor(batch, dtype=torch.float32)
        if clips.ndim == 4:
            clips = clips[None]
        if clips.ndim != 5 or clips.shape[1] != 3:
            raise ValueError(f"expected clips (B, 3, T, S, S) or one clip (3, T, S, S), got {tuple(clips.shape)}")
        device = torch.device(self.device)
        with torch.no_grad():
            return torch.as_tensor(self._predictor(device)(clips.to(device))).float().cpu()

    def _predictor(self, device: torch.device):
        if self.engine is not None:
            return lambda clips: self.engine.predict(clips.cpu().numpy())
        return self.model.to(device).eval()

    def _adopt_classes(self, dataset: Dataset) -> None:
        classes = getattr(dataset, "classes", None)
        if classes is None:
            return
        if len(classes) != self.config.num_classes:
            raise ConfigError(f"num_classes: the model has {self.config.num_classes} classes, the training set "
                              f"{len(classes)}; build the learner with num_classes={len(classes)}")
        self.classes = list(classes)

    # -- files ------------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write `<name>.pth` (state dict), `<name>.json` (metadata) and, after optimize(), `<name>.onnx` into
        the directory `path`. Existing files are never overwritten: the name gets a version (x3d_xs_1, ...).
        Returns the weights file."""
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"save() takes a directory; {folder} is a file")
        folder.mkdir(parents=True, exist_ok=True)
        stem = _free_stem(folder, f"x3d_{self.spec.name}")
        weights = folder / f"{stem}.pth"
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        with atomic_path(weights) as tmp:
            torch.save(state, tmp)
        if self.onnx_path is not None:
            with atomic_path(folder / f"{stem}.onnx") as tmp:
                shutil.copyfile(self.onnx_path, tmp)
        self.metadata().write_json(folder / f"{stem}.json")  # last: its presence means the set is complete
        log.info("saved %s", weights)
        return weights

    def metadata(self) -> ModelMetadata:
        return ModelMetadata.for_spec(self.spec, self.classes, crop=self.crop).replace(
            extra={"training": self.config.to_dict()})

    def load(self, path: str | os.PathLike) -> None:
        """Load a directory written by save() (its newest version), its .json, a weights file (.pth/.pt), or an
        official SlowFast checkpoint (.pyth: Kinetics-400 classes)."""
        path = Path(path)
        if path.is_dir():
            path = _newest_metadata(path)
        if path.suffix in WEIGHTS_SUFFIXES and path.with_suffix(".json").is_file():
            path = path.with_suffix(".json")  # its metadata says which size and classes the weights are
        if path.suffix == ".json":
            metadata = ModelMetadata.read_json(path)
            self._load_weights(path.with_suffix(".pth"), metadata.model, metadata.classes)
            if metadata.crop != self.crop:
                self.config = self.config.replace(crop=metadata.crop)
        elif path.suffix in WEIGHTS_SUFFIXES:
            self._load_weights(path, self.spec.name, None)
        else:
            raise ValueError(f"cannot load {path}: expected a directory written by save(), a .json, or a weights "
                             f"file ({', '.join(WEIGHTS_SUFFIXES)})")

    def _load_weights(self, path: Path, backbone: str, classes: list[str] | None) -> None:
        state = read_state_dict(path)
        head = state.get(HEAD_KEYS[1])
        if head is None:
            raise CheckpointError(f"{path} is not an X3D checkpoint: it has no {HEAD_KEYS[1]}")
        num_classes = head.shape[0]
        if classes is not None and len(classes) != num_classes:
            raise CheckpointError(f"{path} has {num_classes} outputs but its metadata names {len(classes)} classes")
        model = build_model(backbone, num_classes)
        load_state_dict(model, state, source=str(path))
        self.model, self.spec = model, get_spec(backbone)
        self.classes = list(classes) if classes else default_classes(num_classes)
        self.config = self.config.replace(backbone=backbone, num_classes=num_classes)
        self._drop_engine()
        log.info("loaded %s (X3D-%s, %d classes)", path, backbone.upper(), num_classes)

    def _load_pretrained(self, source: str) -> None:
        """Initial weights; a checkpoint with another class count leaves this model's new head in place."""
        from ..hub import cached_checkpoint

        path = cached_checkpoint(self.spec.name) if source == "kinetics" else Path(source)
        if path is None:
            raise ConfigError(f"pretrained: no cached Kinetics checkpoint for X3D-{self.spec.name.upper()}; "
                              f"run `ar-core download --models {self.spec.name}` first")
        load_checkpoint(self.model, path)

    # -- fast inference ---------------------------------------------------------------------------------

    def optimize(self, do_constant_folding: bool = False) -> None:
        """Export to ONNX (kept for save()) and run infer()/eval() on ONNX Runtime from now on."""
        from ..runtime import create_engine
        from ..runtime.export import export_onnx

        folder = Path(self.config.temp_path) if self.config.temp_path else Path(tempfile.mkdtemp(prefix="x3d_"))
        onnx_path = folder / f"x3d_{self.spec.name}_optimized.onnx"
        metadata = self.metadata()
        export_onnx(self.model.cpu().eval(), metadata, onnx_path, do_constant_folding=do_constant_folding)
        self._drop_engine()
        device = "cuda" if self.device.startswith("cuda") else "cpu"
        self.engine = create_engine(onnx_path, backend="onnxruntime", device=device)
        self.onnx_path = onnx_path

    def _drop_engine(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine, self.onnx_path = None, None

    # -- official checkpoints ---------------------------------------------------------------------------

    def download(self, path: str | os.PathLike | None = None,
                 model_names: set[str] | frozenset[str] = frozenset({"xs", "s", "m", "l"})) -> list[Path]:
        """Fetch the official Kinetics-400 checkpoints into `path` (default: the ar_ros cache)."""
        from ..hub import download_checkpoint

        return [download_checkpoint(name, path) for name in sorted(model_names)]


def _free_stem(folder: Path, base: str) -> str:
    """base, base_1, base_2, ...: the first whose files do not exist yet."""
    version = 0
    while True:
        stem = base if version == 0 else f"{base}_{version}"
        if not any((folder / f"{stem}{suffix}").exists() for suffix in (".pth", ".json", ".onnx")):
            return stem
        version += 1


def _newest_metadata(folder: Path) -> Path:
    """The highest version of the one model saved in `folder`."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for path in folder.glob("*.json"):
        if path.with_suffix(".pth").is_file():
            match = VERSIONED.match(path.stem)
            found.setdefault(match["base"], []).append((int(match["version"] or 0), path))
    if not found:
        raise ValueError(f"{folder} holds no saved model (a <name>.json with its <name>.pth)")
    if len(found) > 1:
        raise ValueError(f"{folder} holds several models ({', '.join(sorted(found))}); pass the .json to load")
    return max(next(iter(found.values())))[1]
