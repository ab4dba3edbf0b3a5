"""What a registry entry is: a model's name, builder facts, recipe input and published figures.

The entries themselves live beside their architectures (x3d.py, resnet3d.py, ...) and are gathered by
ar_core.models.registry, the one list of models.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

RECIPE_FPS = 30.0  # a sampling rate counts frames of a 30 fps video (Kinetics, as X3D/SlowFast recipes do)
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
KINETICS_CLASSES = 400  # the classifier size of published checkpoints (Kinetics-400)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry (ar_core.models.registry): how to build the model and the input it was trained on."""

    name: str  # the registry name: `model` in the CLI, the node, YAML and the learner
    title: str  # how people write it: "X3D-XS", "R(2+1)D-18"
    family: str  # the module that builds it: x3d, resnet3d, s3d, slowfast, lrcn, fstcn, mobilenetv3_3d
    frames: int  # clip length T
    sampling_rate: int  # take every n-th frame of a 30 fps video (RECIPE_FPS)
    train_crop: int  # square crop of training (X3D: the head's pooling kernel is sized for it)
    test_crop: int  # crop (and short side) for evaluation, as the paper reports
    mean: tuple[float, float, float] = KINETICS_MEAN
    std: tuple[float, float, float] = KINETICS_STD
    file_stem: str = ""  # how our files of it are named: <file_stem>.pth, <file_stem>-stream.onnx
    checkpoint: str | None = None  # the published checkpoint's file name, where there is one
    params: int | None = None  # published parameter count (None: unpublished)
    gflops: float | None = None  # published GFLOPs (multiply-adds) at figures_input
    figures_input: tuple[int, int, int] | None = None  # (T, H, W) those figures are for
    source: str = ""  # paper and repository the entry is built from
    dropout_rate: float = 0.5  # before the classifier, as the paper's/source's recipe
    streaming: bool = False  # has a continual (stream) form: ar_core.models.streaming

    @property
    def interval_s(self) -> float:
        """Seconds between the frames of a clip."""
        return sample_interval_s(self.sampling_rate)

    @property
    def clip_seconds(self) -> float:
        """Time a clip spans: `frames` samples, one every `interval_s`."""
        return self.frames * self.interval_s

    def with_input(self, frames: int = 0, sampling_rate: int = 0) -> ModelSpec:
        """This size fed `frames`-frame clips taken every `sampling_rate`-th frame (0 keeps the recipe's): a
        training run's `frames`/`sampling_rate` keys, so its data, head pooling and saved metadata agree."""
        return replace(self, frames=frames or self.frames, sampling_rate=sampling_rate or self.sampling_rate)

    def to_dict(self) -> dict:
        return asdict(self)


def sample_interval_s(sampling_rate: float) -> float:
    """Seconds between clip frames for a sampling rate: the one definition of the 30 fps convention."""
    return sampling_rate / RECIPE_FPS
