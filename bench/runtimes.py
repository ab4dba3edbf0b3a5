"""Runtime benchmark: `ar-core bench` for X3D-XS and X3D-S with every CPU backend, side by side.

    .venv/bin/python bench/runtimes.py                   # xs and s, batch 1 and 8, 2 threads
    .venv/bin/python bench/runtimes.py --models xs --batch 1 --runs 20

Prints one table per model: median latency, speed-up over eager torch measured in the same run (runs are
interleaved, so load from other processes hits every backend alike), GFLOP/s and the share of this CPU's
fp32 matmul peak. Without --weights the weights are random (timing only); the table says so.
"""
from __future__ import annotations

import argparse
import logging

from ar_core.runtime.bench import run_bench

BACKENDS = "torch-compile,onnxruntime,openvino,onnxruntime-int8,openvino-int8,openvino-fp16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="xs,s", help="comma-separated X3D sizes")
    parser.add_argument("--backends", default=BACKENDS, help="comma-separated (eager torch is always measured)")
    parser.add_argument("--batch", default="1,8", help="comma-separated batch sizes")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=12, help="timed runs per measurement (median reported)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for model in args.models.split(","):
        result = run_bench(model, args.backends.split(","), [int(b) for b in args.batch.split(",")], args.threads,
                           runs=args.runs)
        print(result.table(), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
