"""X3D-XS trained from scratch on the CPU learns SyntheticMotion: the recipe `make demo` trains, run in full.

The class of a SyntheticMotion clip is only in its motion (every class draws the same first frame), so
a model can beat chance only by learning the motion. bench/training.py times the same recipe to 90%.
"""
import math
from pathlib import Path

import torch

from ar_core import X3DLearner
from ar_core.models import get_spec
from ar_core.train.config import load_config
from ar_core.train.datasets import build_dataset

RECIPE = Path(__file__).resolve().parents[1] / "config" / "train" / "demo_synthetic.yaml"


def test_x3d_xs_learns_synthetic_motion_with_the_demo_recipe():
    torch.set_num_threads(1)
    config = load_config(RECIPE, {"log_every": 40})
    spec = get_spec(config.model)
    train, val = build_dataset(config, spec, "train"), build_dataset(config, spec, "val")
    learner = X3DLearner.from_config(config.replace(num_classes=len(train.classes)))
    result = learner.fit(train)  # validated once, below, by eval
    assert result["iterations"] == config.iters * (config.synthetic_samples // config.batch_size)

    metrics = learner.eval(val)
    chance = 1 / len(train.classes)
    assert metrics["top1"] >= 2 * chance, f"val top-1 {metrics['top1']:.3f} (chance {chance})"
    assert metrics["loss"] < 0.75 * math.log(len(train.classes)), metrics["loss"]  # ln 4 = 1.39 at chance
