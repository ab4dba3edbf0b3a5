"""Time for X3D-XS to reach 90% validation top-1 on SyntheticMotion, training on the CPU.

    .venv/bin/python bench/training.py [--classes 2] [--size 32] [--epochs 6] [--threads 2]

Trains with the learner's loop (SGD or Adam, cosine schedule, validation after every epoch) and prints
each epoch's validation top-1 with the wall time since training began, then the time the target was met.
Timings depend on the machine and on whatever else runs on it; the top-1 curve does not.
"""
from __future__ import annotations

import argparse
import logging
import time

import torch

from ar_core import X3DLearner
from ar_core.data import SyntheticMotion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classes", type=int, default=2, help="motion classes (2-8)")
    parser.add_argument("--size", type=int, default=32, help="frame size = crop in pixels")
    parser.add_argument("--frames", type=int, default=4, help="frames per clip")
    parser.add_argument("--train-samples", type=int, default=2048)
    parser.add_argument("--val-samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="model initialisation and batch order")
    parser.add_argument("--target", type=float, default=0.9, help="validation top-1 to reach")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    data = dict(num_classes=args.classes, frames=args.frames, size=args.size)
    train, val = SyntheticMotion(args.train_samples, seed=1, **data), SyntheticMotion(args.val_samples, seed=2, **data)
    learner = X3DLearner(backbone="xs", device="cpu", crop=args.size, num_classes=args.classes,
                         batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, lr_schedule="cosine",
                         warmup_epochs=0.5, weight_decay=5e-5, log_every=20, seed=args.seed)
    started = time.perf_counter()
    result = learner.fit(train, val, epochs=args.epochs)
    total = time.perf_counter() - started

    print(f"X3D-XS, SyntheticMotion {args.classes} classes, {args.frames}x{args.size}x{args.size}, "
          f"{args.train_samples} training clips, batch {args.batch_size}, {args.optimizer} lr {args.lr}, "
          f"{args.threads} CPU thread(s)")
    print(f"{'epoch':>5} {'iteration':>9} {'time s':>8} {'val top-1':>9}")
    for row in result["history"]:
        print(f"{row['epoch']:5d} {row['iteration']:9d} {row['elapsed_s']:8.1f} {100 * row['val_top1']:8.1f}%")
    reached = next((row for row in result["history"] if row["val_top1"] >= args.target), None)
    if reached:
        print(f"reached {100 * args.target:.0f}% validation top-1 after {reached['elapsed_s']:.1f} s "
              f"({reached['iteration']} iterations, epoch {reached['epoch']})")
    else:
        best = max(row["val_top1"] for row in result["history"])
        print(f"did not reach {100 * args.target:.0f}% in {args.epochs} epochs ({total:.1f} s); best {100 * best:.1f}%")


if __name__ == "__main__":
    main()
