"""Clip transforms on torch tensors (optionally on a GPU), in the SlowFast recipe's order.

A clip is a float tensor (C, T, H, W); decoders hand over uint8 frames (T, H, W, 3).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

Frames = np.ndarray | torch.Tensor


def to_float_clip(frames: Frames, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 frames (T, H, W, 3) -> float32 clip (3, T, H, W) in [0, 1], on `device`."""
    frames = torch.as_tensor(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames shaped (T, H, W, 3), got {tuple(frames.shape)}")
    # Move the uint8 frames before converting: a quarter of the bytes to copy.
    frames = frames.to(device)
    return frames.permute(3, 0, 1, 2).float().div_(255.0)


def resize_short_side(clip: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize keeping the aspect ratio so that min(H, W) == size (antialiased when shrinking)."""
    height, width = clip.shape[-2:]
    if min(height, width) == size:
        return clip
    scale = size / min(height, width)
    new_size = (size, round(width * scale)) if height <= width else (round(height * scale), size)
    # Interpolate treats dim 0 as the batch: put time there so each frame is resized alone.
    frames = clip.transpose(0, 1)
    frames = F.interpolate(frames, size=new_size, mode="bilinear", align_corners=False, antialias=scale < 1)
    return frames.transpose(0, 1).contiguous()


def crop(clip: torch.Tensor, top: int, left: int, size: int) -> torch.Tensor:
    """The square `size` x `size` region whose top-left corner is (top, left)."""
    height, width = clip.shape[-2:]
    if not (0 <= top <= height - size and 0 <= left <= width - size):
        raise ValueError(f"crop {size}x{size} at ({top}, {left}) does not fit a {height}x{width} clip")
    return clip[..., top:top + size, left:left + size]


def center_crop(clip: torch.Tensor, size: int) -> torch.Tensor:
    height, width = clip.shape[-2:]
    return crop(clip, (height - size) // 2, (width - size) // 2, size)


def random_crop(clip: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    height, width = clip.shape[-2:]
    top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
    return crop(clip, top, left, size)


def three_crops(clip: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Start, centre and end crops along the long side, centred on the short side (SlowFast's 3 test crops)."""
    height, width = clip.shape[-2:]
    if height > width:
        return [crop(clip, top, (width - size) // 2, size) for top in (0, (height - size) // 2, height - size)]
    return [crop(clip, (height - size) // 2, left, size) for left in (0, (width - size) // 2, width - size)]


def horizontal_flip(clip: torch.Tensor) -> torch.Tensor:
    return clip.flip(-1)


def normalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(clip - mean) / std per channel; channels are dim 0 of (C, T, H, W) or dim 1 of (N, C, T, H, W)."""
    shape = (-1, 1, 1, 1)
    mean_t = torch.as_tensor(mean, dtype=clip.dtype, device=clip.device).view(shape)
    std_t = torch.as_tensor(std, dtype=clip.dtype, device=clip.device).view(shape)
    return (clip - mean_t) / std_t


class ClipTransform:
    """uint8 frames (T, H, W, 3) -> normalised float clip (3, T, crop, crop).

    Training: resize the short side to a random length in `short_side` = (min, max) (scale jitter),
    take a random crop and flip half of the clips. Evaluation: resize the short side to `short_side`
    and take the centre crop; `views` gives the 1 or 3 spatial crops of multi-view testing.
    """

    def __init__(self, train: bool, crop: int, short_side: int | tuple[int, int],
                 mean: Sequence[float], std: Sequence[float], flip: bool = True,
                 device: torch.device | str | None = None):
        low, high = (short_side, short_side) if isinstance(short_side, int) else short_side
        if not crop <= low <= high:
            raise ValueError(f"short_side {short_side} must be at least the crop {crop} (and min <= max)")
        if not train and low != high:
            raise ValueError(f"evaluation takes one short_side, got the range {short_side}")
        self.train, self.crop, self.short_side = train, crop, (low, high)
        self.mean, self.std, self.flip, self.device = tuple(mean), tuple(std), flip, device

    def __call__(self, frames: Frames, generator: torch.Generator | None = None) -> torch.Tensor:
        clip = to_float_clip(frames, self.device)
        if not self.train:
            clip = center_crop(resize_short_side(clip, self.short_side[0]), self.crop)
            return normalize(clip, self.mean, self.std)
        low, high = self.short_side
        clip = resize_short_side(clip, int(torch.randint(low, high + 1, (1,), generator=generator)))
        clip = random_crop(clip, self.crop, generator)
        if self.flip and float(torch.rand((1,), generator=generator)) < 0.5:
            clip = horizontal_flip(clip)
        return normalize(clip, self.mean, self.std)

    def views(self, frames: Frames, num_crops: int) -> torch.Tensor:
        """The `num_crops` (1: centre, 3: along the long side) test crops, stacked: (num_crops, 3, T, crop, crop)."""
        if num_crops not in (1, 3):
            raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
        clip = resize_short_side(to_float_clip(frames, self.device), self.short_side[0])
        crops = [center_crop(clip, self.crop)] if num_crops == 1 else three_crops(clip, self.crop)
        return torch.stack([normalize(c, self.mean, self.std) for c in crops])

    def __repr__(self) -> str:
        return (f"ClipTransform(train={self.train}, crop={self.crop}, short_side={self.short_side}, "
                f"mean={self.mean}, std={self.std}, flip={self.flip})")
