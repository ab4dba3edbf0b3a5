"""One place for what each X3D size expects as input and how it is shaped.

Figures follow the X3D paper (Feichtenhofer, CVPR 2020) and the SlowFast configs
`configs/Kinetics/X3D_{XS,S,M,L}.yaml`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

RECIPE_FPS = 30.0  # a sampling rate counts frames of a 30 fps video (Kinetics, as X3D/SlowFast recipes do)
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    """Architecture expansion factors and the input a model of this size was trained on."""

    name: str
    width_factor: float  # gamma_w: channel width of every stage
    depth_factor: float  # gamma_d: blocks per stage
    bottleneck_factor: float  # gamma_b: inner width of each block
    frames: int  # clip length T
    sampling_rate: int  # take every n-th frame of a 30 fps video (RECIPE_FPS)
    train_crop: int  # square crop the head's pooling kernel is sized for
    test_crop: int  # crop (and short side) for evaluation, as the paper reports
    mean: tuple[float, float, float] = KINETICS_MEAN
    std: tuple[float, float, float] = KINETICS_STD
    stem_width: int = 12  # DIM_C1 before width expansion
    head_width: int = 2048  # DIM_C5, width of the head's lin_5

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


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("xs", 2.0, 2.2, 2.25, frames=4, sampling_rate=12, train_crop=160, test_crop=182),
        ModelSpec("s", 2.0, 2.2, 2.25, frames=13, sampling_rate=6, train_crop=160, test_crop=182),
        ModelSpec("m", 2.0, 2.2, 2.25, frames=16, sampling_rate=5, train_crop=224, test_crop=256),
        ModelSpec("l", 2.0, 5.0, 2.25, frames=16, sampling_rate=5, train_crop=312, test_crop=356),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The spec for `name` ('xs', 'x3d_xs', 'X3D-XS' all work), or a ValueError listing valid names."""
    key = name.lower().replace("-", "_").removeprefix("x3d_")
    if key not in MODEL_SPECS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODEL_SPECS)}")
    return MODEL_SPECS[key]
