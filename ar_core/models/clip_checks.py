"""Input and head-argument checks shared by the model-zoo families (resnet3d, s3d, slowfast, lrcn, fstcn).

They run at the top of `forward` on static shape values only, so they cost nothing in eager mode and vanish
from exported graphs (torch.export sees Python ints there; only the batch axis is dynamic).
"""
from __future__ import annotations

import torch


def check_clips(clips: torch.Tensor, model: str, min_frames: int = 1, channels: int = 3) -> None:
    """Raise a ValueError naming the expected (N, 3, T>=min_frames, H, W) shape when `clips` does not fit."""
    expected = f"(N, {channels}, T>={min_frames}, H, W)"
    if clips.dim() != 5:
        raise ValueError(f"{model} expects clips of shape {expected}, got {clips.dim()} dimensions: "
                         f"{tuple(clips.shape)}")
    if clips.shape[1] != channels:
        raise ValueError(f"{model} expects clips of shape {expected} ({channels} RGB channels), got "
                         f"{tuple(clips.shape)}")
    if clips.shape[2] < min_frames:
        raise ValueError(f"{model} expects clips of shape {expected} (at least {min_frames} frames), got "
                         f"{tuple(clips.shape)}")


def check_head_args(num_classes: int, dropout_rate: float) -> None:
    """The builders' shared argument check: a positive class count and a dropout probability below 1."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
