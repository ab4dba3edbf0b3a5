"""X3D (Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition", CVPR 2020).

Module and parameter names follow the SlowFast implementation so that the official checkpoints
(`x3d_xs.pyth` ... `x3d_l.pyth`) load with strict key and shape matching:

    s1.pathway0_stem.{conv_xy, conv, bn}
    s{2..5}.pathway0_res{i}.{branch1, branch1_bn, branch2.{a, a_bn, b, b_bn, se.{fc1, fc2}, c, c_bn}}
    head.{conv_5, conv_5_bn, lin_5, projection}
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .specs import KINETICS_CLASSES, ModelSpec


BN_EPS = 1e-5
BN_MOMENTUM = 0.1
SE_RATIO = 0.0625
# Blocks, width (before the width factor) and spatial stride of res2..res5 in the X3D basis.
STAGE_BASIS = ((1, 12, 2), (2, 24, 2), (5, 48, 2), (3, 96, 2))
STEM_TEMPORAL_KERNEL = 5
BLOCK_TEMPORAL_KERNEL = 3
DROPOUT_RATE = 0.5  # before the head's projection (SlowFast MODEL.DROPOUT_RATE of the X3D configs)


@dataclass(frozen=True)
class X3DSize:
    """The expansion factors of one X3D size (the paper's gamma_w, gamma_d, gamma_b)."""

    width_factor: float  # channel width of every stage
    depth_factor: float  # blocks per stage
    bottleneck_factor: float  # inner width of each block
    stem_width: int = 12  # DIM_C1 before width expansion
    head_width: int = 2048  # DIM_C5, width of the head's lin_5


X3D_SIZES = {"xs": X3DSize(2.0, 2.2, 2.25), "s": X3DSize(2.0, 2.2, 2.25), "m": X3DSize(2.0, 2.2, 2.25),
             "l": X3DSize(2.0, 5.0, 2.25)}
_SOURCE = ("Feichtenhofer, X3D: Expanding Architectures for Efficient Video Recognition, CVPR 2020, Table 4; "
           "SlowFast configs/Kinetics/X3D_{XS,S,M,L}.yaml")


def _entry(name: str, frames: int, sampling_rate: int, train_crop: int, test_crop: int, params: float,
           gflops: float) -> ModelSpec:
    return ModelSpec(name, f"X3D-{name.upper()}", "x3d", frames, sampling_rate, train_crop, test_crop,
                     file_stem=f"x3d_{name}", checkpoint=f"x3d_{name}.pyth", params=int(params), gflops=gflops,
                     figures_input=(frames, train_crop, train_crop), source=_SOURCE, dropout_rate=DROPOUT_RATE,
                     streaming=True)


# The paper's figures: parameters without BatchNorm's, GFLOPs at the train crop (ar_core.models.profile).
SPECS = (_entry("xs", 4, 12, 160, 182, 3.76e6, 0.60), _entry("s", 13, 6, 160, 182, 3.76e6, 1.96),
         _entry("m", 16, 5, 224, 256, 3.76e6, 4.73), _entry("l", 16, 5, 312, 356, 6.08e6, 18.37))


def round_width(width: float, multiplier: float, min_width: int = 8, divisor: int = 8) -> int:
    """Scale a channel count and round it to a multiple of `divisor`, never losing more than 10%."""
    width *= multiplier
    rounded = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * width:
        rounded += divisor
    return int(rounded)


def round_repeats(repeats: int, multiplier: float) -> int:
    return int(math.ceil(multiplier * repeats))


def batch_norm(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class Stem(nn.Module):
    """Spatial 3x3 conv (stride 2) then a channel-wise temporal conv."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.conv_xy = nn.Conv3d(dim_in, dim_out, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        k = STEM_TEMPORAL_KERNEL
        self.conv = nn.Conv3d(dim_out, dim_out, (k, 1, 1), padding=(k // 2, 0, 0), groups=dim_out, bias=False)
        self.bn = batch_norm(dim_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(self.conv_xy(x))))


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, ratio: float = SE_RATIO):
        super().__init__()
        squeezed = round_width(channels, ratio)
        self.fc1 = nn.Conv3d(channels, squeezed, 1, bias=True)
        self.fc2 = nn.Conv3d(squeezed, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool3d(x, 1)
        scale = torch.sigmoid(self.fc2(F.relu(self.fc1(scale))))
        return x * scale


class Bottleneck(nn.Module):
    """1x1x1 expand, 3x3x3 channel-wise (+SE on every other block, swish), 1x1x1 project."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, stride: int, use_se: bool):
        super().__init__()
        k = BLOCK_TEMPORAL_KERNEL
        self.a = nn.Conv3d(dim_in, dim_inner, 1, bias=False)
        self.a_bn = batch_norm(dim_inner)
        self.b = nn.Conv3d(
            dim_inner, dim_inner, (k, 3, 3), stride=(1, stride, stride), padding=(k // 2, 1, 1),
            groups=dim_inner, bias=False,
        )
        self.b_bn = batch_norm(dim_inner)
        self.se = SqueezeExcitation(dim_inner) if use_se else None
        self.c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.c_bn = batch_norm(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.a_bn(self.a(x)))
        x = self.b_bn(self.b(x))
        if self.se is not None:
            x = self.se(x)
        x = F.silu(x)
        return self.c_bn(self.c(x))


class ResBlock(nn.Module):
    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, stride: int, block_index: int):
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1 = nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = batch_norm(dim_out)
        else:
            self.branch1 = None
        self.branch2 = Bottleneck(dim_in, dim_inner, dim_out, stride, use_se=block_index % 2 == 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.branch1 is None else self.branch1_bn(self.branch1(x))
        return F.relu(shortcut + self.branch2(x))


class Stage(nn.Module):
    """`depth` residual blocks named pathway0_res{i}; the first one downsamples."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, depth: int, stride: int):
        super().__init__()
        for i in range(depth):
            block = ResBlock(dim_in if i == 0 else dim_out, dim_inner, dim_out, stride if i == 0 else 1, i)
            self.add_module(f"pathway0_res{i}", block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            x = block(x)
        return x


class Head(nn.Module):
    """conv_5, average pool with the train-crop kernel, lin_5, dropout, linear projection.

    In eval mode the projection runs at every pooled position, each position gets a softmax and the
    probabilities are averaged: at the train crop that is one position; at a larger test crop it is the
    fully-convolutional testing the paper's Kinetics figures use.
    """

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, num_classes: int,
                 pool_size: tuple[int, int, int], dropout: float = DROPOUT_RATE):
        super().__init__()
        self.pool_size = pool_size
        self.conv_5 = nn.Conv3d(dim_in, dim_inner, 1, bias=False)
        self.conv_5_bn = batch_norm(dim_inner)
        self.lin_5 = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.projection = nn.Linear(dim_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv_5_bn(self.conv_5(x)))
        # A clip shorter or smaller than the train crop pools over all it has (SlowFast would fail here).
        kernel = tuple(min(k, s) for k, s in zip(self.pool_size, x.shape[2:]))
        x = F.avg_pool3d(x, kernel, stride=1)
        x = F.relu(self.lin_5(x))
        x = self.projection(self.dropout(x.permute(0, 2, 3, 4, 1)))  # (N, T, H, W, classes)
        if not self.training:
            x = x.softmax(dim=-1)
        return x.mean(dim=(1, 2, 3))


class X3D(nn.Module):
    """X3D network: logits in train mode, class probabilities in eval mode."""

    def __init__(self, spec: ModelSpec, num_classes: int = KINETICS_CLASSES, dropout: float = DROPOUT_RATE):
        super().__init__()
        self.spec = spec
        self.num_classes = num_classes
        size = X3D_SIZES[spec.name]
        stem_width = round_width(size.stem_width, size.width_factor)
        self.s1 = nn.Module()
        self.s1.add_module("pathway0_stem", Stem(3, stem_width))
        dim_in = stem_width
        for index, (blocks, width, stride) in enumerate(STAGE_BASIS):
            dim_out = round_width(width, size.width_factor)
            dim_inner = int(size.bottleneck_factor * dim_out)
            depth = round_repeats(blocks, size.depth_factor)
            self.add_module(f"s{index + 2}", Stage(dim_in, dim_inner, dim_out, depth, stride))
            dim_in = dim_out
        head_pool = math.ceil(spec.train_crop / 32)
        self.head = Head(dim_in, dim_inner, size.head_width, num_classes,
                         (spec.frames, head_pool, head_pool), dropout)
        init_weights(self)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips: (N, 3, T, H, W), RGB normalised with the spec's mean/std."""
        x = self.s1.pathway0_stem(clips)
        for stage in (self.s2, self.s3, self.s4, self.s5):
            x = stage(x)
        return self.head(x)


def init_weights(model: nn.Module, fc_std: float = 0.01) -> None:
    """SlowFast's init: Kaiming convs, unit BN except zero on each block's last BN, small-std projection."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.constant_(module.weight, 0.0 if name.endswith("branch2.c_bn") else 1.0)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=fc_std)
            nn.init.zeros_(module.bias)


def build_x3d(spec: ModelSpec, num_classes: int = KINETICS_CLASSES, dropout_rate: float = DROPOUT_RATE) -> X3D:
    """X3D of `spec`'s size, its head pooling over spec.frames (loading a checkpoint of another class count
    keeps this new head and says so: checkpoints.load_state_dict)."""
    return X3D(spec, num_classes, dropout=dropout_rate)
