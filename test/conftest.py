"""Session-wide settings: keep DDS traffic on this machine and away from other test runs."""
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

# A domain of our own (0..101 are valid with the default port mapping) and discovery on loopback only.
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a test module (small models run fastest so, and results do not vary), then back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass
class DemoRecipeRun:
    learner: object  # ar_core.X3DLearner, trained
    fit_result: dict
    train: object  # the data sets the recipe builds
    val: object
    config: object


@pytest.fixture(scope="session")
def demo_recipe_run() -> DemoRecipeRun:
    """X3D-XS trained in full with the recipe `make demo` trains (config/train/demo_synthetic.yaml: SyntheticMotion,
    32 px, one thread): a real classifier, trained once per session for the tests that need one (about 4 minutes)."""
    from ar_core import X3DLearner
    from ar_core.models import get_spec
    from ar_core.train.config import load_config
    from ar_core.train.datasets import build_dataset

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        recipe = Path(__file__).resolve().parents[1] / "config" / "train" / "demo_synthetic.yaml"
        config = load_config(recipe, {"log_every": 40})
        spec = get_spec(config.model)
        train, val = build_dataset(config, spec, "train"), build_dataset(config, spec, "val")
        learner = X3DLearner.from_config(config.replace(num_classes=len(train.classes)))
        result = learner.fit(train)  # validated by the tests that use it
        learner.model.eval()
        return DemoRecipeRun(learner, result, train, val, config)
    finally:
        torch.set_num_threads(threads)
