"""Parameter and FLOP counts as the papers report them (multiply-adds of conv and linear layers)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .specs import ModelSpec


@dataclass(frozen=True)
class ModelProfile:
    params: int  # learnable parameters without BatchNorm's, as the paper counts them
    params_with_bn: int
    gflops: float  # multiply-adds of conv and linear layers for one clip (the paper's "FLOPs")
    input_shape: tuple[int, ...]


def profile_model(model: nn.Module, spec: ModelSpec, clip: tuple[int, int, int] | None = None) -> ModelProfile:
    """Count one clip of `clip` (T, H, W; default: the spec's frames at its train crop) with
    torch.utils.flop_counter (which counts 2 per multiply-add)."""
    norm_params = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                   for p in m.parameters()}
    params = sum(p.numel() for p in model.parameters() if id(p) not in norm_params)
    shape = (1, 3, *(clip or (spec.frames, spec.train_crop, spec.train_crop)))
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with counter, torch.no_grad():
            model(torch.zeros(shape))
    finally:
        model.train(was_training)
    return ModelProfile(params, sum(p.numel() for p in model.parameters()),
                        counter.get_total_flops() / 2 / 1e9, shape[1:])
