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
