"""Per-prediction compute of continual X3D (one step per frame) against the clip forward, side by side.

    .venv/bin/python bench/streaming.py    # xs and s; torch and openvino; 1 and 2 threads
    .venv/bin/python bench/streaming.py --model s --backends openvino --num-threads 1 --clip-runs 3 --step-runs 10

For each model, backend and thread count: a clip engine (`predict` on one (1, 3, T, S, S) clip) and a stream
engine (`step` on one (1, 3, S, S) frame, the state carried from step to step as a node carries it), batch 1,
at the model's test crop. Every (model, backend, threads) pair of engines is open at once and the timed runs
come in ROUNDS blocks that take turns over all of them, clip and step alternating, with ar_core.runtime.bench's
pause and one untimed call at each switch; so a change of load on a shared machine hits a clip and its step
alike and the ratios stay fair. The table gives medians.

GFLOPs are multiply-adds of conv and linear layers, as the X3D and CoX3D papers call them and `ar-core info`
counts them (torch.utils.flop_counter's count / 2): the clip forward at the benchmark's crop, and one step of
the continual model after its warm-up. GFLOP/s columns are 2 x those per second, as bench/runtimes.py reports.
The weights are random (timing only): no checkpoint is loaded.

The openvino stream engine keeps each stream's states inside OpenVINO (variables of its request), as the
node runs it; `onnxruntime` passes them through the API as arrays every step.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from ar_core.models import build_model, get_spec
from ar_core.models.metadata import ModelMetadata
from ar_core.models.profile import profile_model
from ar_core.models.streaming import to_streaming
from ar_core.runtime.base import InferenceEngine, States
from ar_core.runtime.bench import ROUNDS, SETTLE_S
from ar_core.runtime.factory import create_engine
from ar_core.runtime.timing import timed

FRAMES_CYCLED = 8  # distinct random frames the steps cycle through


@dataclass
class Pair:
    """The clip and the stream engine of one model on one backend with one thread count."""

    model: str
    backend: str
    threads: int
    clip: InferenceEngine
    step: InferenceEngine
    clips: np.ndarray
    frames: np.ndarray
    states: States
    clip_gmacs: float
    step_gmacs: float
    clip_times: list[float] = dataclasses.field(default_factory=list)
    step_times: list[float] = dataclasses.field(default_factory=list)
    steps: int = 0

    def use_threads(self) -> None:
        # torch's thread count is process-wide: set it before every block of this pair's runs.
        if self.backend.startswith("torch"):
            torch.set_num_threads(self.threads)

    def predict(self) -> None:
        self.clip.predict(self.clips)

    def advance(self) -> None:
        frame = self.frames[self.steps % len(self.frames)][None]
        _, self.states = self.step.step(frame, self.states)
        self.steps += 1


def count_gmacs(network: torch.nn.Module, crop: int, pool_frames: int | None) -> tuple[float, float, int, int]:
    """(clip GMACs, step GMACs, pool_frames, warmup_frames) at `crop`; the step counted after the warm-up."""
    spec = network.spec
    # profile_model counts at spec.train_crop: give it the benchmark's crop, as ar_core.runtime.bench does.
    clip = profile_model(network, dataclasses.replace(spec, train_crop=crop)).gflops
    stream = to_streaming(network, pool_frames)
    states = stream.initial_state(1, crop, crop)
    generator = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for _ in range(stream.warmup_frames):
            _, *states = stream(torch.randn(1, 3, crop, crop, generator=generator), *states)
        counter = FlopCounterMode(display=False)
        with counter:
            stream(torch.randn(1, 3, crop, crop, generator=generator), *states)
    return clip, counter.get_total_flops() / 2 / 1e9, stream.pool_frames, stream.warmup_frames


def open_pairs(model: str, backends: list[str], threads: list[int], crop: int | None, pool_frames: int | None,
               cache_dir: str, hint: str, seed: int) -> tuple[list[Pair], dict]:
    spec = get_spec(model)
    torch.manual_seed(seed)
    network = build_model(spec.name).eval()
    metadata = ModelMetadata.for_spec(spec, [f"class {i}" for i in range(network.num_classes)], crop)
    clip_gmacs, step_gmacs, pool, warmup = count_gmacs(network, metadata.crop, pool_frames)
    rng = np.random.default_rng(seed)
    clips = rng.standard_normal((1, *metadata.input_shape)).astype(np.float32)
    frames = rng.standard_normal((FRAMES_CYCLED, *metadata.frame_shape)).astype(np.float32)
    pairs = []
    for backend in backends:
        options = {"performance_hint": hint} if backend == "openvino" else {}
        for n in threads:
            common = dict(num_threads=n, metadata=metadata, cache_dir=cache_dir, **options)
            clip = create_engine(network, backend, **common)
            step = create_engine(network, backend, inference="stream", pool_frames=pool, **common)
            states = step.initial_state(1)
            pair = Pair(spec.name, backend, n, clip, step, clips, frames, states, clip_gmacs, step_gmacs)
            pair.use_threads()
            for _ in range(2):
                pair.predict()
            for _ in range(warmup):  # run the stream through its warm-up, as a node does before publishing
                pair.advance()
            pairs.append(pair)
    info = dict(model=spec.name, crop=metadata.crop, frames=metadata.frames, pool=pool, warmup=warmup)
    return pairs, info


def measure(pairs: list[Pair], clip_runs: int, step_runs: int) -> None:
    clip_block, step_block = -(-clip_runs // ROUNDS), -(-step_runs // ROUNDS)
    for _ in range(ROUNDS):
        for pair in pairs:
            pair.use_threads()
            for call, times, block in ((pair.predict, pair.clip_times, clip_block),
                                       (pair.advance, pair.step_times, step_block)):
                time.sleep(SETTLE_S)  # let the previous engine's worker threads stop spinning
                call()  # untimed: caches and thread pools of this engine warm again
                times += [timed(call) for _ in range(block)]


def table(pairs: list[Pair], infos: list[dict]) -> str:
    lines = ["batch 1, test crop, random weights (timing only); ms: median per prediction (clip: one forward of "
             "a T-frame clip; step: one frame)",
             *(f"X3D-{i['model'].upper()}: {i['frames']}x{i['crop']}x{i['crop']} clips vs 1x{i['crop']}x{i['crop']} "
               f"steps, pool {i['pool']} frames, {i['warmup']} warm-up steps" for i in infos),
             f"{'model':<7}{'backend':<19}{'threads':>8}{'clip ms':>10}{'step ms':>10}{'ratio':>8}"
             f"{'clip GFLOPs':>13}{'step GFLOPs':>13}{'FLOP ratio':>12}{'clip GFLOP/s':>14}{'step GFLOP/s':>14}"]
    for p in pairs:
        clip_ms, step_ms = statistics.median(p.clip_times) * 1000, statistics.median(p.step_times) * 1000
        lines.append(f"{p.model:<7}{p.backend:<19}{p.threads:>8}{clip_ms:>10.1f}{step_ms:>10.2f}"
                     f"{clip_ms / step_ms:>8.2f}{p.clip_gmacs:>13.3f}{p.step_gmacs:>13.3f}"
                     f"{p.clip_gmacs / p.step_gmacs:>12.2f}{2 * p.clip_gmacs / clip_ms * 1000:>14.1f}"
                     f"{2 * p.step_gmacs / step_ms * 1000:>14.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="xs,s", help="model names, comma-separated")
    parser.add_argument("--backends", default="torch,openvino",
                        help="comma-separated: torch, torch-compile, onnxruntime, openvino")
    parser.add_argument("--num-threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--crop", type=int, default=None, help="default: each model's test crop")
    parser.add_argument("--pool-frames", type=int, default=None, help="the stream's final pool (default: clip length)")
    parser.add_argument("--clip-runs", type=int, default=9, help="timed clip forwards per row (median reported)")
    parser.add_argument("--step-runs", type=int, default=60, help="timed steps per row (median reported)")
    parser.add_argument("--openvino-hint", default="latency", choices=["latency", "throughput"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    threads = [int(n) for n in args.num_threads.split(",")]
    pairs, infos = [], []
    with tempfile.TemporaryDirectory(prefix="ar-core-streaming-bench-") as cache_dir:
        try:
            for model in args.model.split(","):
                opened, info = open_pairs(model, args.backends.split(","), threads, args.crop, args.pool_frames,
                                          cache_dir, args.openvino_hint, args.seed)
                pairs += opened
                infos.append(info)
            measure(pairs, args.clip_runs, args.step_runs)
        finally:
            for pair in pairs:
                pair.clip.close()
                pair.step.close()
    print(table(pairs, infos), flush=True)


if __name__ == "__main__":
    main()
