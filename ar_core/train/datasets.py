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
    from ..data.cvat import CvatDataset, cvat_classes
    from ..data.datasets import (ClipDataset, HMDB51Dataset, KineticsDataset, ListDataset, UCF101Dataset,
                                 VideoFolderDataset, as_paths, list_classes)

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
        need("data_root")
        csv = config.annotations if train else config.val_annotations or config.annotations
        split = config.train_split if train else config.val_split
        return make(KineticsDataset, config.data_root, csv or None, split, label_file=label_file)
    if config.dataset in ("ucf101", "hmdb51"):
        need("data_root", "splits_dir")
        cls = UCF101Dataset if config.dataset == "ucf101" else HMDB51Dataset
        return make(cls, config.data_root, config.splits_dir, config.split, train=train)
    if config.dataset in ("rawframes", "list", "cvat"):
        root_key = "data_root" if train or not config.val_root else "val_root"  # val_root defaults to data_root
        need(root_key)
        roots = as_paths(getattr(config, root_key))
        # Without a labels file, training and validation take their class set from both splits, so they agree.
        both_roots = as_paths(config.data_root) + as_paths(config.val_root)
        if config.dataset == "cvat":
            classes = None if label_file else cvat_classes(both_roots, config.frame_template)
            return make(CvatDataset, roots, label_file=label_file, classes=classes, template=config.frame_template)
        annotations_key = "annotations" if train else "val_annotations"
        need(annotations_key)
        files = as_paths(getattr(config, annotations_key))
        if len(roots) not in (1, len(files)):
            raise ConfigError(f"{annotations_key}: {len(files)} files but {root_key} has {len(roots)} roots; they "
                              f"are paired by position (or give one root for all)")
        classes = None if label_file else list_classes(as_paths(config.annotations) + as_paths(config.val_annotations))
        return make(ListDataset, roots, files, config.frame_template, label_file=label_file, classes=classes)
    need("data_root" if train else "val_root")
    return make(VideoFolderDataset, config.data_root if train else config.val_root)
