"""X3DLearner: train, evaluate, save, load, optimize and run X3D with the API of the OpenDR X3D learner.

    X3DLearner.download(path="weights", model_names={"xs"})
    learner = X3DLearner(backbone="xs", device="cpu").load("weights")
    learner.fit(train_set, val_set, epochs=5, logging_path="logs")
    learner.eval(val_set)            # {"loss", "top1", "top5", "per_class_accuracy", "confusion", ...}
    learner.save("runs/motion")      # runs/motion/x3d_xs.pth + x3d_xs.json
    learner.optimize()               # ONNX Runtime for infer()
    learner.infer(clips)             # [Category(class_id, name, confidence), ...]

The constructor keeps OpenDR's keywords (`backbone` is the model name, `model` the network); everything else
in ar_core says `model` for the name (docs/vocabulary.md).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..atomic import atomic_path
from ..devices import resolve_device
from ..hub import CHECKPOINTS
from ..labels import kinetics400_labels
from ..models import KINETICS_CLASSES, build_model, get_spec, load_checkpoint
from ..models.metadata import ModelMetadata
from .checkpointing import find_checkpoint
from .config import ConfigError, TrainConfig, from_mapping
from .distributed import setup_distributed

log = logging.getLogger(__name__)

# The engine that runs each kind of exported model in infer() and eval().
EXPORTED_BACKENDS = {"onnx": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt"}


@dataclass(frozen=True)
class Category:
    """One prediction: the class index, its name and its probability."""

    class_id: int
    name: str
    confidence: float


def default_classes(num_classes: int) -> list[str]:
    return list(kinetics400_labels()) if num_classes == KINETICS_CLASSES else [f"class_{i}" for i in
                                                                               range(num_classes)]


class X3DLearner:
    """Every keyword but `threshold` is a TrainConfig field (see `ar-core train --help`); OpenDR's are spelled out.

    Differences from OpenDR: `device` defaults to "auto" (CUDA when present, else the CPU; OpenDR: "cuda"), and
    `threshold` (OpenDR fixes it at 0.0) makes infer() leave out a clip's prediction (None in its place) when it
    scores below it, as the node's `score_threshold` leaves out classes.
    """

    def __init__(self, lr: float = 1e-3, iters: int = 10, batch_size: int = 64, optimizer: str = "adam",
                 lr_schedule: str = "", backbone: str = "s", network_head: str = "classification",
                 checkpoint_after_iter: int = 0, checkpoint_load_iter: int = 0, temp_path: str = "",
                 device: str = "auto", loss: str = "cross_entropy", weight_decay: float = 1e-5,
                 momentum: float = 0.9, drop_last: bool = True, pin_memory: bool = False, num_workers: int = 0,
                 seed: int = 123, num_classes: int = 400, threshold: float = 0.0, **extra):
        if "model" in extra:
            raise ConfigError("X3DLearner: the model name is the keyword backbone= (OpenDR's signature)")
        options = dict(lr=lr, iters=iters, batch_size=batch_size, optimizer=optimizer, lr_schedule=lr_schedule,
                       model=get_spec(backbone).name, network_head=network_head,
                       checkpoint_after_iter=checkpoint_after_iter, checkpoint_load_iter=checkpoint_load_iter,
                       temp_path=str(temp_path), device=device, loss=loss, weight_decay=weight_decay,
                       momentum=momentum, drop_last=drop_last, pin_memory=pin_memory, num_workers=num_workers,
                       seed=seed, num_classes=num_classes)
        self._setup(from_mapping({**options, **extra}, source="X3DLearner"), threshold)

    @classmethod
    def from_config(cls, config: TrainConfig, threshold: float = 0.0) -> X3DLearner:
        learner = cls.__new__(cls)
        learner._setup(config, threshold)
        return learner

    def _setup(self, config: TrainConfig, threshold: float) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold: must be between 0 and 1 (a probability), got {threshold}")
        self.config, self.threshold = config, threshold
        self.device = resolve_device(config.device)
        self.spec = config.spec  # the size with the run's frames and sampling rate
        torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
        self.model: torch.nn.Module | None = build_model(self.spec.name, config.num_classes, frames=self.spec.frames,
                                                         dropout_rate=config.dropout_rate)  # None: exported
        self.classes = default_classes(config.num_classes)
        self.engine = None  # the fast runtime, after optimize() or loading an exported model
        self.onnx_path: Path | None = None  # the ONNX file optimize() wrote, which save() copies
        self.exported: Path | None = None  # the exported model loaded instead of weights
        if config.pretrained:
            self._load_pretrained(config.pretrained)

    @property
    def crop(self) -> int:
        """The crop clips are given at for inference and export."""
        return self.config.crop or self.spec.test_crop

    # -- training and evaluation ------------------------------------------------------------------------

    def fit(self, dataset: Dataset, val_dataset: Dataset | None = None, epochs: int | None = None,
            steps: int | None = None, logging_path: str | os.PathLike | None = None) -> dict:
        """Train for `epochs` (default: iters) epochs, stopping early after `steps` iterations if given.

        TensorBoard scalars go to `logging_path` (default: temp_path/tensorboard; neither: none are written).
        Returns {"iterations", "epochs", "train_loss", "val" (the last validation summary), "history" (one
        summary per epoch: epoch, iteration, elapsed_s since this call began, val_loss, val_top1, val_top5,
        val_mean_class_accuracy), "skipped" ([path, reason] of unreadable videos)}.
        """
        from .loop import Trainer

        network = self._network("fit()")
        self._adopt_classes(dataset)
        ctx, device = setup_distributed(self.device)
        resume_from = None
        if self.config.checkpoint_load_iter:
            resume_from = find_checkpoint(self.config.temp_path, self.config.checkpoint_load_iter)
        log_dir = Path(logging_path) if logging_path is not None else None
        trainer = Trainer(network, self.config, self.classes, device, ctx, log_dir=log_dir)
        result = trainer.fit(dataset, val_dataset, epochs or self.config.iters, steps, resume_from)
        self._drop_engine()  # the weights changed
        return result

    def eval(self, dataset: Dataset, steps: int | None = None) -> dict:
        """Metrics over `dataset` (at most `steps` batches, of eval_batch_size clips): loss (NLL of the predicted
        probabilities), top1 (video-wise), top3, top5, frame_accuracy, mean_class_accuracy, per_class_accuracy,
        confusion, classes, samples, protocol, skipped (ar_core.eval.metrics), plus the model's params and gflops
        of one clip at the training crop (ar_core.models.profile, as the X3D paper counts them)."""
        from ..models.profile import profile_model
        from ..eval.evaluator import evaluate

        classes = list(getattr(dataset, "classes", self.classes))
        if len(classes) != len(self.classes):
            raise ValueError(f"the data set has {len(classes)} classes, the model {len(self.classes)}")
        if classes != self.classes:
            log.warning("the data set's class names differ from the model's; scoring by index, reporting the "
                        "model's names (first difference: %r vs %r)",
                        *next((a, b) for a, b in zip(classes, self.classes) if a != b))
        ctx, device = setup_distributed(self.device)
        metrics = evaluate(self._predictor(device), dataset, self.classes,
                           max(1, self.config.eval_batch // ctx.world_size), device, ctx, max_batches=steps,
                           num_workers=self.config.num_workers, pin_memory=self.config.pin_memory)
        # Counted on a fresh CPU copy of the architecture (the same figures for torch weights and exported models),
        # at the training crop: the recipe's, or the config's crop where one is set.
        counted = dataclasses.replace(self.spec, train_crop=self.config.crop or self.spec.train_crop)
        profile = profile_model(build_model(self.spec.name, len(self.classes), frames=self.spec.frames), counted)
        metrics.update(params=profile.params, gflops=profile.gflops)
        return metrics

    def infer(self, batch: torch.Tensor | np.ndarray) -> list[Category | None]:
        """The most probable class of each clip of a (B, 3, T, S, S) batch, or of one (3, T, S, S) clip: one
        entry per clip, None where that class scores below `threshold`."""
        confidence, index = self.probabilities(batch).max(dim=1)
        return [Category(int(i), self.classes[int(i)], float(c)) if c >= self.threshold else None
                for i, c in zip(index, confidence)]

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

    def _network(self, action: str) -> torch.nn.Module:
        """The PyTorch network, which training, saving and exporting need."""
        if self.model is None:
            raise ValueError(f"{action} needs PyTorch weights; this learner holds the exported model "
                             f"{self.exported} (load a .pth/.pyth or a save() folder instead)")
        return self.model

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
        from ..runtime.sources import free_stem

        network = self._network("save()")
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"save() takes a directory; {folder} is a file")
        folder.mkdir(parents=True, exist_ok=True)
        stem = free_stem(folder, self.spec.file_stem)
        weights = folder / f"{stem}.pth"
        state = {k: v.detach().cpu() for k, v in network.state_dict().items()}
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

    def load(self, path: str | os.PathLike) -> X3DLearner:
        """Load what the one model loader opens (ar_core.runtime.sources.open_model): a folder written by save()
        (its newest version) or holding an official x3d_<size>.pyth, a .json, weights (.pth/.pt, official
        .pyth), or an exported model (.onnx, OpenVINO .xml, TensorRT .engine), which infer() and eval() then run
        on its runtime. The size, classes and crop come with the model. Returns the learner."""
        from ..runtime import ModelFormatError, create_engine, open_model

        try:
            source = open_model(path)
        except ModelFormatError:
            # Weights that do not say which model they are (no .json), or a folder of several: as in OpenDR,
            # this learner's backbone decides. Anything else fails again with the loader's own message.
            source = open_model(path, self.spec.name)
        metadata = source.metadata
        self._drop_engine()
        if source.kind == "torch":
            self.model, self.exported = source.module, None
        else:
            device = "cuda" if self.device.startswith("cuda") else "cpu"
            self.engine = create_engine(source.path, backend=EXPORTED_BACKENDS[source.kind], device=device)
            self.model, self.exported = None, source.path
        recipe = get_spec(metadata.model)
        self.spec = recipe.with_input(metadata.frames, metadata.sampling_rate)
        self.classes = list(metadata.classes)
        self.config = self.config.replace(
            model=metadata.model, num_classes=metadata.num_classes,
            crop=0 if metadata.crop == recipe.test_crop else metadata.crop,
            frames=0 if metadata.frames == recipe.frames else metadata.frames,
            sampling_rate=0 if metadata.sampling_rate == recipe.sampling_rate else metadata.sampling_rate)
        log.info("loaded %s (%s, %d classes, %s)", source.path, metadata.title, metadata.num_classes, source.kind)
        return self

    def _load_pretrained(self, source: str) -> None:
        """Initial weights; a checkpoint with another class count leaves this model's new head in place."""
        from ..hub import cached_checkpoint

        path = cached_checkpoint(self.spec.name) if source == "kinetics" else Path(source)
        if path is None:
            raise ConfigError(f"pretrained: no cached Kinetics checkpoint for {self.spec.title}; "
                              f"run `ar-core download --model {self.spec.name}` first")
        load_checkpoint(self.model, path)

    # -- fast inference ---------------------------------------------------------------------------------

    def optimize(self, do_constant_folding: bool = False) -> None:
        """Export to ONNX (kept for save()) and run infer()/eval() on ONNX Runtime from now on."""
        from ..runtime import create_engine
        from ..runtime.onnx_export import export_onnx

        network = self._network("optimize()")
        folder = Path(self.config.temp_path) if self.config.temp_path else Path(tempfile.mkdtemp(prefix="ar-core-"))
        onnx_path = folder / f"{self.spec.file_stem}_optimized.onnx"
        export_onnx(network.cpu().eval(), self.metadata(), onnx_path, do_constant_folding=do_constant_folding)
        self._drop_engine()
        device = "cuda" if self.device.startswith("cuda") else "cpu"
        self.engine = create_engine(onnx_path, backend="onnxruntime", device=device)
        self.onnx_path = onnx_path

    def _drop_engine(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine, self.onnx_path = None, None

    # -- official checkpoints ---------------------------------------------------------------------------

    @staticmethod
    def download(path: str | os.PathLike | None = None,
                 model_names: Iterable[str] = frozenset(CHECKPOINTS)) -> list[Path]:
        """Fetch the official Kinetics-400 checkpoints x3d_<name>.pyth into `path` (default: the ar_ros cache).
        Static, as in OpenDR: `X3DLearner.download(path=..., model_names={"xs"})` needs no learner."""
        from ..hub import download_checkpoint

        return [download_checkpoint(name, path) for name in sorted(model_names)]

