"""Frame preprocessing cost: FramePreprocessor against a naive torch resize-then-crop, side by side.

    .venv/bin/python bench/preprocess.py [--model xs --height 480 --width 640 --repeats 100 --num-threads 1]
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from ar_core.models import MODEL_SPECS, ModelSpec, get_spec
from ar_core.stream import FramePreprocessor


def naive_resize_then_crop(rgb: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """The textbook transform: whole frame to float, short side to `crop` (antialiased), centre crop, normalise."""
    crop = spec.test_crop
    frame = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    scale = crop / min(rgb.shape[:2])
    height, width = round(rgb.shape[0] * scale), round(rgb.shape[1] * scale)
    frame = F.interpolate(frame, size=(height, width), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (height - crop) // 2, (width - crop) // 2
    frame = frame[:, top:top + crop, left:left + crop]
    return (frame - torch.tensor(spec.mean)[:, None, None]) / torch.tensor(spec.std)[:, None, None]


def ms_per_call(transform: Callable[[np.ndarray], torch.Tensor], frames: list[np.ndarray], repeats: int) -> float:
    """Best of five runs of `repeats` calls, as timeit does: the other machine load only ever adds time."""
    transform(frames[0])  # warm up caches and thread pools
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(repeats):
            transform(frames[i % len(frames)])
        runs.append((time.perf_counter() - start) / repeats * 1e3)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--model", default="xs", choices=list(MODEL_SPECS), help="X3D size whose test crop to use")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--num-threads", type=int, default=1, help="threads for both OpenCV and torch")
    args = parser.parse_args()
    cv2.setNumThreads(args.num_threads)
    torch.set_num_threads(args.num_threads)

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (args.height, args.width, 3), dtype=np.uint8) for _ in range(8)]
    spec = get_spec(args.model)
    fast_ms = ms_per_call(FramePreprocessor.for_spec(spec), frames, args.repeats)
    naive_ms = ms_per_call(lambda rgb: naive_resize_then_crop(rgb, spec), frames, args.repeats)
    crop = spec.test_crop
    print(f"{args.width}x{args.height} -> {crop}x{crop} ({spec.title}), {args.num_threads} thread(s), "
          f"best of 5 x {args.repeats} frames")
    print(f"  FramePreprocessor        {fast_ms:7.3f} ms/frame")
    print(f"  naive torch resize+crop  {naive_ms:7.3f} ms/frame")
    print(f"  speed-up                 {naive_ms / fast_ms:7.1f}x")


if __name__ == "__main__":
    main()
