"""Runtime benchmark: `ar-core bench` for X3D-XS and X3D-S with every CPU backend, side by side.

    .venv/bin/python bench/runtimes.py                   # xs and s, batch sizes 1 and 8, 2 threads
    .venv/bin/python bench/runtimes.py --model xs --batch-size 1 --runs 20

Prints one table per model: median latency, speed-up over eager torch measured in the same run (runs are
interleaved, so load from other processes hits every backend alike), GFLOP/s and the share of this CPU's
fp32 matmul peak. The weights are random (timing only); the table says so.
"""
from __future__ import annotations

import argparse
import logging

from ar_core.runtime.bench import run_bench

BACKENDS = "torch-compile,onnxruntime,openvino,onnxruntime-int8,openvino-int8,openvino-fp16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="xs,s", help="model names, comma-separated")
    parser.add_argument("--backends", default=BACKENDS, help="comma-separated (eager torch is always measured)")
    parser.add_argument("--batch-size", default="1,8", help="batch sizes, comma-separated")
    parser.add_argument("--num-threads", type=int, default=2, help="CPU threads for every backend")
    parser.add_argument("--runs", type=int, default=12, help="timed runs per measurement (median reported)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for model in args.model.split(","):
        result = run_bench(model, args.backends.split(","), [int(b) for b in args.batch_size.split(",")],
                           args.num_threads, runs=args.runs)
        print(result.table(), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
