"""Time for X3D-XS to reach 90% validation top-1 on SyntheticMotion, training on the CPU.

    .venv/bin/python bench/training.py [--seeds 0,1,2] [--num-threads 1] [any `ar-core train` flag, e.g. --lr 0.002]

Trains the recipe `make demo` trains (config/train/demo_synthetic.yaml; flags override its keys) once per seed,
through the same configuration and data set code as `ar-core train`, validating after every epoch. Prints
each run's validation top-1 per epoch with the wall time since training began, when it met the target, and,
over the seeds, the iterations to the target side by side. Iterations do not depend on the machine; seconds do,
and on whatever else runs on it.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from ar_core import X3DLearner
from ar_core.models import get_spec
from ar_core.train.config import add_config_flags, config_from_args
from ar_core.train.datasets import build_dataset

RECIPE = Path(__file__).resolve().parents[1] / "config" / "train" / "demo_synthetic.yaml"


def train_once(config) -> list[dict]:
    spec = get_spec(config.model)
    train_set, val_set = build_dataset(config, spec, "train"), build_dataset(config, spec, "val")
    learner = X3DLearner.from_config(config.replace(num_classes=len(train_set.classes)))
    return learner.fit(train_set, val_set)["history"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (initialisation, data, batch order)")
    parser.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--target", type=float, default=0.9, help="validation top-1 to reach")
    add_config_flags(parser, "train")
    parser.set_defaults(config=str(RECIPE))
    args = parser.parse_args()

    torch.set_num_threads(args.num_threads)
    logging.basicConfig(level=logging.WARNING)
    base = config_from_args(args).replace(temp_path="", checkpoint_after_iter=0)
    print(f"X3D-XS, SyntheticMotion {base.synthetic_classes} classes at {base.crop} px, {base.synthetic_samples} "
          f"training / {base.synthetic_val_samples} validation clips, batch {base.batch_size}, {base.optimizer} "
          f"lr {base.lr} {base.lr_schedule or 'constant'}, {base.iters} epochs, {args.num_threads} CPU thread(s)")
    reached = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        history = train_once(base.replace(seed=seed))
        print(f"seed {seed}\n{'epoch':>5} {'iteration':>9} {'time s':>8} {'val top-1':>9}")
        for row in history:
            print(f"{row['epoch']:5d} {row['iteration']:9d} {row['elapsed_s']:8.1f} {100 * row['val_top1']:8.1f}%")
        reached[seed] = next((row for row in history if row["val_top1"] >= args.target), None)
        best = max(row["val_top1"] for row in history)
        print(f"seed {seed}: " + (f"reached {100 * args.target:.0f}% after {reached[seed]['iteration']} iterations, "
                                  f"{reached[seed]['elapsed_s']:.1f} s" if reached[seed] else
                                  f"did not reach {100 * args.target:.0f}%; best {100 * best:.1f}%"))
    print(f"\n{'seed':>4} {'iterations to ' + format(args.target, '.0%'):>18} {'seconds':>8}")
    for seed, row in reached.items():
        print(f"{seed:4d} {row['iteration'] if row else '-':>18} {row['elapsed_s'] if row else float('nan'):8.1f}")


if __name__ == "__main__":
    main()
