"""Wall-clock timing of predictions, shared by `auto` (choosing a backend) and the benchmark."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from .base import InferenceEngine


def timed(function: Callable[[], object]) -> float:
    """Seconds one call of `function` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_latency_ms(engine: InferenceEngine, clips: np.ndarray, warmup: int = 3, runs: int = 10) -> float:
    """Median wall time of `runs` predictions after `warmup` untimed ones (allocation, lazy compilation)."""
    for _ in range(warmup):
        engine.predict(clips)
    return statistics.median(timed(lambda: engine.predict(clips)) for _ in range(runs)) * 1000


def median_step_ms(engine: InferenceEngine, warmup: int = 3, runs: int = 10) -> float:
    """Median wall time of `runs` steps of one stream (a stream model) after `warmup` untimed ones."""
    frames = np.zeros((1, *engine.metadata.frame_shape), np.float32)
    states = engine.initial_state(1)
    for _ in range(warmup):
        _, states = engine.step(frames, states)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        _, states = engine.step(frames, states)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
