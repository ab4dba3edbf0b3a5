"""Latency bookkeeping shared by the node's diagnostics and bag-eval's report."""
from __future__ import annotations

from collections import deque

import numpy as np


class LatencyStats:
    """The last `window` end-to-end latencies (newest-frame stamp to result) and compute times, in seconds."""

    def __init__(self, window: int = 1000):
        self.latency_s: deque[float] = deque(maxlen=window)
        self.compute_s: deque[float] = deque(maxlen=window)

    def add(self, latency_s: float, compute_s: float) -> None:
        self.latency_s.append(latency_s)
        self.compute_s.append(compute_s)

    def summary_ms(self) -> dict[str, float]:
        """p50/p95/max of both, in milliseconds (empty when nothing was measured yet)."""
        out: dict[str, float] = {}
        for name, values in (("latency", self.latency_s), ("compute", self.compute_s)):
            if values:
                ms = np.asarray(values) * 1e3
                out.update({f"{name}_p50_ms": float(np.percentile(ms, 50)),
                            f"{name}_p95_ms": float(np.percentile(ms, 95)),
                            f"{name}_max_ms": float(ms.max())})
        return out
