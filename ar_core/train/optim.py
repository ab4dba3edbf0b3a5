"""Optimizer and learning-rate schedule of the X3D recipe: SGD or Adam, linear warm-up, then cosine or constant."""
from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("cosine", "")


def build_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float, bn_weight_decay: float,
                    momentum: float) -> torch.optim.Optimizer:
    """BatchNorm scales and shifts get their own weight decay (the recipe uses none on them)."""
    bn_params = [p for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 for p in m.parameters(recurse=False)]
    bn_ids = {id(p) for p in bn_params}
    other_params = [p for p in model.parameters() if id(p) not in bn_ids]
    groups = [{"params": other_params, "weight_decay": weight_decay},
              {"params": bn_params, "weight_decay": bn_weight_decay}]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def lr_factor(step: int, total_steps: int, schedule: str, warmup_steps: int, warmup_start_factor: float,
              end_factor: float = 0.0) -> float:
    """Multiplier on the base lr for optimizer step `step` (0-based).

    Cosine decays from 1 to `end_factor` (eta_min / lr) over `total_steps`, as SlowFast's cosine policy with
    COSINE_END_LR; the warm-up climbs linearly from `warmup_start_factor` to the value the schedule has at the
    warm-up's end, as SlowFast does.
    """
    def scheduled(at: int) -> float:
        if schedule == "cosine":
            cosine = 0.5 * (1.0 + math.cos(math.pi * min(at, total_steps) / max(total_steps, 1)))
            return end_factor + (1.0 - end_factor) * cosine
        return 1.0

    if step < warmup_steps:
        end = scheduled(warmup_steps)
        return warmup_start_factor + (end - warmup_start_factor) * step / warmup_steps
    return scheduled(step)


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, schedule: str, warmup_steps: int,
                    warmup_start_lr: float, lr: float, eta_min: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {schedule!r}; choose 'cosine' or '' (constant)")
    start_factor = warmup_start_lr / lr if lr > 0 else 1.0
    end_factor = eta_min / lr if lr > 0 else 0.0
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, schedule, warmup_steps, start_factor, end_factor))
