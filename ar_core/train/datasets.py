"""Build the configured data set for training ("train"), validation ("val") or evaluation ("test")."""
from __future__ import annotations

from torch.utils.data import Dataset

from ..models import ModelSpec
from .config import ConfigError, TrainConfig

SYNTHETIC_SEEDS = {"train": 0, "val": 1, "test": 1}  # validation and test share clips, never with training


def build_dataset(config: TrainConfig, spec: ModelSpec, mode: str) -> Dataset:
    """mode: "train" (random crops), "val" (one centred clip) or "test" (test_clips x test_crops views)."""
    from ..data import SyntheticMotion

    if config.dataset == "synthetic":
        count = config.synthetic_samples if mode == "train" else config.synthetic_val_samples
        return SyntheticMotion(count, num_classes=config.synthetic_classes, frames=spec.frames,
                               size=config.crop or spec.train_crop, seed=config.seed * 10 + SYNTHETIC_SEEDS[mode],
                               mean=spec.mean, std=spec.std)
    return _video_dataset(config, spec, mode)


def _video_dataset(config: TrainConfig, spec: ModelSpec, mode: str) -> Dataset:
    from ..data.datasets import (ClipDataset, HMDB51Dataset, KineticsDataset, RawFramesDataset, UCF101Dataset,
                                 VideoFolderDataset)

    train = mode == "train"
    knobs = dict(mode=mode, seed=config.seed, num_clips=config.test_clips, num_crops=config.test_crops)
    if config.crop:
        knobs.update(crop=config.crop, short_side=None)  # None: the jitter range follows the crop
    label_file = config.labels or None  # the data set classes keep OpenDR's keyword

    def need(*names: str) -> None:
        for name in names:
            if not getattr(config, name):
                raise ConfigError(f"dataset {config.dataset!r} needs {name}")

    def make(cls: type[ClipDataset], *args, **kwargs) -> Dataset:
        return cls.from_spec(spec, *args, **kwargs, **knobs)

    if config.dataset == "kinetics":
        need("data_root", "annotations")
        csv = config.annotations if train else config.val_annotations or config.annotations
        split = config.train_split if train else config.val_split
        return make(KineticsDataset, config.data_root, csv, split, label_file=label_file)
    if config.dataset in ("ucf101", "hmdb51"):
        need("data_root", "splits_dir")
        cls = UCF101Dataset if config.dataset == "ucf101" else HMDB51Dataset
        return make(cls, config.data_root, config.splits_dir, config.split, train=train)
    if config.dataset == "rawframes":
        need("data_root", "annotations" if train else "val_annotations")
        annotations = config.annotations if train else config.val_annotations
        return make(RawFramesDataset, config.data_root, annotations, config.frame_template, label_file=label_file)
    need("data_root" if train else "val_root")
    return make(VideoFolderDataset, config.data_root if train else config.val_root)
