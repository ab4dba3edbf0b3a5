"""Decode throughput of one training clip: seeking `read_frames` vs decoding the whole file and picking frames.

    .venv/bin/python bench/data_loading.py [--clips 20] [--videos PATH ...]

Without --videos it encodes a 10 s 320x240 30 fps H.264 video (B-frames, 2 s GOP) into a temporary
folder. Each clip follows the X3D-XS and X3D-M recipes (4 x 12 and 16 x 5 frames at 30 fps, placed at
random); both methods read the same clips, side by side in one run.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from ar_core.data.sampling import random_clip_indices, stride_for_fps
from ar_core.data.video import probe, read_all_frames, read_frames
from ar_core.data.synthetic import render_motion_frames

RECIPES = {"X3D-XS 4x12": (4, 12), "X3D-M 16x5": (16, 5)}


def encode_benchmark_video(path: Path, seconds: int = 10, fps: int = 30) -> Path:
    """A 320x240 H.264 video with moving content (so that P/B-frames carry real work)."""
    frames = render_motion_frames(0, seconds * fps, 240, fps=fps, seed=0, noise=0.02)
    frames = np.concatenate([frames, frames[:, :, :80]], axis=2)  # 240x320
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"g": str(2 * fps), "bf": "2", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        container.mux(stream.encode())
    return path


def bench(path: Path, num_clips: int) -> None:
    info = probe(path)
    print(f"{path.name}: {info.width}x{info.height} {info.codec} {info.fps:.2f} fps, {info.num_frames} frames")
    rng = np.random.default_rng(0)
    methods = {
        "seek": lambda indices: read_frames(path, indices, info),
        "whole": lambda indices: read_all_frames(path, info)[np.minimum(indices, info.num_frames - 1)],
    }
    for name, (frames, sampling_rate) in RECIPES.items():
        stride = stride_for_fps(sampling_rate, info.fps)
        seconds = dict.fromkeys(methods, 0.0)
        for _ in range(num_clips):
            indices = random_clip_indices(info.num_frames, frames, stride, rng)
            for method, read in methods.items():  # alternate, so both see the same machine load
                start = time.perf_counter()
                read(indices)
                seconds[method] += time.perf_counter() - start
        seek, whole = (num_clips / seconds[m] for m in methods)
        print(f"  {name:12s} read_frames (seek) {seek:7.1f} clips/s | whole file then pick {whole:6.1f} clips/s "
              f"| ratio {seek / whole:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20, help="clips per recipe and method")
    parser.add_argument("--videos", type=Path, nargs="*", default=[], help="also time these videos")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for path in [encode_benchmark_video(Path(folder) / "bench_320x240_10s.mp4"), *args.videos]:
            bench(path, args.clips)


if __name__ == "__main__":
    main()
