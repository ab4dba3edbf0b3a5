"""X3D-XS trained from scratch on the CPU learns SyntheticMotion: the recipe `make demo` trains, run in full.

The class of a SyntheticMotion clip is only in its motion (every class draws the same first frame), so
a model can beat chance only by learning the motion. bench/training.py times the same recipe to 90%. The training
is conftest's demo_recipe_run, shared with the streaming agreement test.
"""
import math

import torch


def test_x3d_xs_learns_synthetic_motion_with_the_demo_recipe(demo_recipe_run):
    run, config = demo_recipe_run, demo_recipe_run.config
    assert run.fit_result["iterations"] == config.iters * (config.synthetic_samples // config.batch_size)

    torch.set_num_threads(1)
    metrics = run.learner.eval(run.val)
    chance = 1 / len(run.train.classes)
    assert metrics["top1"] >= 2 * chance, f"val top-1 {metrics['top1']:.3f} (chance {chance})"
    assert metrics["loss"] < 0.75 * math.log(len(run.train.classes)), metrics["loss"]  # ln 4 = 1.39 at chance
