"""The model card's numbers: every registry entry's size, latency and time to learn SyntheticMotion, side by side.

    .venv/bin/python bench/models.py                         # both parts, all 12 entries (long: see below)
    .venv/bin/python bench/models.py --part latency --runs 3 # params, GFLOPs, eager and best-backend ms per clip
    .venv/bin/python bench/models.py --part train --model xs,lrcn --max-epochs 8

Latency (`--part latency`): each entry at its own input (spec.frames x spec.test_crop, batch 1, random weights:
timing only), with eager torch and each of `--backends` (default onnxruntime and openvino; the table gives the
faster) at every `--num-threads` count. All engines of all entries are open at once and the timed runs come in
ROUNDS blocks that take turns over all of them, with ar_core.runtime.bench's pause and one untimed call at each
switch, so a change of load on the shared machine hits every entry and backend alike. Params (without
BatchNorm's) and GFLOPs (multiply-adds, `ar-core info`'s count) are profile_model's at that same input. ONNX
exports are cached for the run in a temporary folder (one export per entry, shared by the thread counts).

Time to 90% (`--part train`): the `make demo` recipe, config/train/demo_synthetic.yaml (SyntheticMotion, 4
classes, 640 training / 256 validation clips, 32 px, batch 16, Adam lr 0.004, cosine), with `model` replaced
and `iters` set to `--max-epochs` (the cosine schedule spans the capped run), each entry at its own frames (the
recipe sets none) and the recipe's 32 px crop (every entry runs at 32 px). Validation after every epoch
(X3DLearner.fit's history): the wall time since training began at the first epoch with top-1 >= `--target`, or
"not reached in N epochs" with the best top-1. Seconds depend on the machine and its load; epochs do not.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ar_core import X3DLearner
from ar_core.models import MODEL_SPECS, build_model, get_spec
from ar_core.models.metadata import ModelMetadata
from ar_core.models.profile import profile_model
from ar_core.runtime.base import InferenceEngine
from ar_core.runtime.bench import ROUNDS, SETTLE_S
from ar_core.runtime.factory import create_engine
from ar_core.runtime.timing import timed
from ar_core.train.config import load_config
from ar_core.train.datasets import build_dataset

RECIPE = Path(__file__).resolve().parents[1] / "config" / "train" / "demo_synthetic.yaml"


@dataclass
class Timed:
    """One engine of one entry on one backend with one thread count, and its timed runs."""

    model: str
    backend: str
    threads: int
    engine: InferenceEngine
    clips: np.ndarray
    times: list[float] = dataclasses.field(default_factory=list)

    def use_threads(self) -> None:
        # torch's thread count is process-wide: set it before every block of this engine's runs.
        if self.backend.startswith("torch"):
            torch.set_num_threads(self.threads)

    def predict(self) -> None:
        self.engine.predict(self.clips)

    @property
    def ms(self) -> float:
        return statistics.median(self.times) * 1000


def open_engines(model: str, backends: list[str], threads: list[int], cache_dir: str,
                 seed: int) -> tuple[list[Timed], dict]:
    """Engines of `model` at its own input on eager torch and every backend, and its counted figures."""
    spec = get_spec(model)
    torch.manual_seed(seed)
    network = build_model(spec.name).eval()
    metadata = ModelMetadata.for_spec(spec, [f"class {i}" for i in range(network.num_classes)])
    # profile_model counts at spec.train_crop: give it the input the engines run at.
    profile = profile_model(network, dataclasses.replace(spec, train_crop=metadata.crop))
    clips = np.random.default_rng(seed).standard_normal((1, *metadata.input_shape)).astype(np.float32)
    opened, export_s = [], 0.0
    for backend in ["torch", *backends]:
        for n in threads:
            start = time.perf_counter()
            engine = create_engine(network, backend, num_threads=n, metadata=metadata, cache_dir=cache_dir)
            if backend != "torch":
                export_s += time.perf_counter() - start
            item = Timed(spec.name, backend, n, engine, clips)
            item.use_threads()
            item.predict()  # warm-up: allocation, lazy compilation
            opened.append(item)
    info = dict(model=spec.name, title=spec.title, frames=metadata.frames, crop=metadata.crop,
                params=profile.params, gflops=profile.gflops, open_s=export_s)
    return opened, info


def measure(engines: list[Timed], runs: int) -> None:
    block = -(-runs // ROUNDS)
    for _ in range(ROUNDS):
        for item in engines:
            item.use_threads()
            time.sleep(SETTLE_S)  # let the previous engine's worker threads stop spinning
            item.predict()  # untimed: caches and thread pools of this engine warm again
            item.times += [timed(item.predict) for _ in range(block)]


def latency_table(engines: list[Timed], infos: list[dict], threads: list[int]) -> str:
    head = f"{'model':<17}{'input':>10}{'params':>9}{'GFLOPs':>8}{'open s':>8}"
    for n in threads:
        head += f"{f'eager ms {n}t':>14}{f'best ms {n}t':>13}{'backend':>13}"
    lines = ["batch 1, each entry's own input (frames x test crop), random weights (timing only); ms: median per "
             "clip; best: the fastest of the exported backends; open s: exporting and compiling them", head]
    for info in infos:
        own = [e for e in engines if e.model == info["model"]]
        row = f"{info['model']:<17}"
        row += f"{str(info['frames']) + 'x' + str(info['crop']):>10}{info['params'] / 1e6:>8.2f}M" \
               f"{info['gflops']:>8.2f}{info['open_s']:>8.0f}"
        for n in threads:
            eager = next(e for e in own if e.backend == "torch" and e.threads == n)
            best = min((e for e in own if e.backend != "torch" and e.threads == n), key=lambda e: e.ms)
            row += f"{eager.ms:>14.1f}{best.ms:>13.1f}{best.backend:>13}"
        lines.append(row)
    return "\n".join(lines)


def latency(models: list[str], backends: list[str], threads: list[int], runs: int, seed: int) -> str:
    engines, infos = [], []
    with tempfile.TemporaryDirectory(prefix="ar-core-models-bench-") as cache_dir:
        try:
            for model in models:
                opened, info = open_engines(model, backends, threads, cache_dir, seed)
                engines += opened
                infos.append(info)
                print(f"opened {info['model']} ({info['open_s']:.0f} s exporting and compiling)", flush=True)
            measure(engines, runs)
        finally:
            for item in engines:
                item.engine.close()
    return latency_table(engines, infos, threads)


def time_to_target(model: str, max_epochs: int, target: float, seed: int) -> dict:
    """The demo recipe with `model` replaced, capped at `max_epochs`: its per-epoch validation history."""
    config = load_config(RECIPE).replace(model=model, iters=max_epochs, seed=seed, temp_path="",
                                         checkpoint_after_iter=0)
    spec = get_spec(config.model)
    train_set, val_set = build_dataset(config, spec, "train"), build_dataset(config, spec, "val")
    learner = X3DLearner.from_config(config.replace(num_classes=len(train_set.classes)))
    history = learner.fit(train_set, val_set)["history"]
    reached = next((row for row in history if row["val_top1"] >= target), None)
    return dict(model=spec.name, frames=spec.frames, crop=config.crop, history=history, reached=reached,
                best=max(row["val_top1"] for row in history), total_s=history[-1]["elapsed_s"])


def train_row(result: dict, max_epochs: int, target: float) -> str:
    reached, curve = result["reached"], " / ".join(f"{100 * row['val_top1']:.0f}" for row in result["history"])
    outcome = (f"{reached['elapsed_s']:.0f} s (epoch {reached['epoch']})" if reached else
               f"not reached in {max_epochs} epochs (best {100 * result['best']:.1f}%)")
    return (f"{result['model']:<17}{str(result['frames']) + 'x' + str(result['crop']):>8}  "
            f"{outcome:<40}{result['total_s']:>8.0f}  {curve}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=",".join(MODEL_SPECS), help="registry names, comma-separated")
    parser.add_argument("--part", default="both", choices=["latency", "train", "both"])
    parser.add_argument("--backends", default="onnxruntime,openvino",
                        help="exported backends, comma-separated (eager torch is always measured)")
    parser.add_argument("--num-threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per engine (median reported)")
    parser.add_argument("--max-epochs", type=int, default=8, help="training cap (the recipe's 8 epochs)")
    parser.add_argument("--train-threads", type=int, default=2, help="torch CPU threads for training")
    parser.add_argument("--target", type=float, default=0.9, help="validation top-1 to reach")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    models = [get_spec(name).name for name in args.model.split(",")]
    threads = [int(n) for n in args.num_threads.split(",")]
    if args.part in ("latency", "both"):
        print(latency(models, args.backends.split(","), threads, args.runs, args.seed), end="\n\n", flush=True)
    if args.part in ("train", "both"):
        torch.set_num_threads(args.train_threads)
        print(f"time to {args.target:.0%} validation top-1: {RECIPE.name} with model replaced, "
              f"{args.max_epochs} epochs at most, {args.train_threads} CPU thread(s), seed {args.seed}\n"
              f"{'model':<17}{'input':>8}  {'time to target':<40}{'total s':>8}  val top-1 % per epoch", flush=True)
        for model in models:
            print(train_row(time_to_target(model, args.max_epochs, args.target, args.seed), args.max_epochs,
                            args.target), flush=True)


if __name__ == "__main__":
    main()
