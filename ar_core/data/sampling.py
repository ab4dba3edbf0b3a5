"""Which frames of a video make a clip: random placement for training, uniform placement for testing.

A clip is `clip_frames` frames `stride` video frames apart (the stride may be fractional: it is the
recipe's sampling rate at 30 fps converted to the video's own fps, so a clip always spans the same time).
Frames past the end of a short video repeat its last frame.
"""
from __future__ import annotations

import numpy as np

from ..models.specs import RECIPE_FPS


def stride_for_fps(sampling_rate: float, fps: float) -> float:
    """Video frames between clip frames so that the clip lasts as long as at `sampling_rate` on 30 fps."""
    if sampling_rate <= 0 or fps <= 0:
        raise ValueError(f"sampling_rate and fps must be positive, got {sampling_rate} and {fps}")
    return sampling_rate * fps / RECIPE_FPS


def clip_indices(start: float, num_frames: int, clip_frames: int, stride: float) -> list[int]:
    """Frames start, start + stride, ... rounded, clamped to the video."""
    if num_frames < 1 or clip_frames < 1:
        raise ValueError(f"num_frames and clip_frames must be positive, got {num_frames} and {clip_frames}")
    positions = np.round(start + stride * np.arange(clip_frames)).astype(int)
    return np.clip(positions, 0, num_frames - 1).tolist()


def _free_frames(num_frames: int, clip_frames: int, stride: float) -> float:
    """How far the clip's start can move while the whole clip stays inside the video."""
    return max(num_frames - 1 - stride * (clip_frames - 1), 0.0)


def random_clip_indices(num_frames: int, clip_frames: int, stride: float, rng: np.random.Generator) -> list[int]:
    """One clip starting at a uniformly random position (training)."""
    start = rng.uniform(0, _free_frames(num_frames, clip_frames, stride))
    return clip_indices(start, num_frames, clip_frames, stride)


def uniform_clip_indices(num_frames: int, clip_frames: int, stride: float, num_clips: int) -> list[list[int]]:
    """`num_clips` clips spread evenly from the start to the end of the video (testing); one clip is centred.

    This is SlowFast's uniform temporal sampling with offsets (the first clip starts at frame 0 and the
    last one ends at the last frame); clips of a video shorter than a clip all start at frame 0.
    """
    if num_clips < 1:
        raise ValueError(f"num_clips must be positive, got {num_clips}")
    free = _free_frames(num_frames, clip_frames, stride)
    starts = [free / 2] if num_clips == 1 else np.linspace(0, free, num_clips).tolist()
    return [clip_indices(start, num_frames, clip_frames, stride) for start in starts]
