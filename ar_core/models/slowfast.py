"""SlowFast with 3D ResNet-18 pathways (Feichtenhofer, Fan, Malik, He, "SlowFast Networks for Video
Recognition", ICCV 2019, arXiv:1812.03982).

Checked against the paper's Table 1 (the SlowFast-R50 instantiation), scaled to ResNet-18 basic blocks
[2, 2, 2, 2] as the seeds' 'ar' repo (its README: "3D ResNet-18 as the pathways") describes:

- Slow pathway: every alpha-th frame, widths 64-128-256-512; stem 1x7x7; temporal kernel 1 in res2 and res3
  and 3 in res4 and res5 (Table 1: "non-degenerate temporal filters" only in res4/res5).
- Fast pathway: every frame, widths beta x the slow ones (8-16-32-64); stem 5x7x7; temporal kernel 3 in every
  stage. No temporal downsampling anywhere (Table 1).
- Lateral connections fast->slow after the stem (pool1) and after res2, res3, res4: a time-strided conv
  5x1x1 (stride alpha) to 2*beta*C channels, BN, ReLU, concatenated to the slow features (Sec. 3.4, the
  paper's default "time-strided convolution" fusion; SlowFast's FuseFastToSlow).
- Basic block: a T x 3 x 3 conv (T: the stage's temporal kernel) then a 1x3x3 conv, as the SlowFast code's
  BasicTransform for ResNet-18; spatial stride on the first block of res3..res5.
- Head: global average pool of each pathway, concatenated (512 + 64), dropout 0.5 (SlowFast configs'
  MODEL.DROPOUT_RATE), linear classifier. Adaptive pooling: any crop >= 32 px and any T >= alpha run.

The input is ONE clip of the fast pathway's T frames (N, 3, T, H, W); forward takes the slow pathway's frames
itself (frames 0, alpha, 2 alpha, ...), so callers see a single-input model like every other entry. The slow
pathway gets ceil(T / alpha) frames, which the padded (2, 0, 0) lateral convs produce from T fast frames.

No figure is published for R18 pathways (the paper's are for R50/R101: SlowFast-R50 4x16 36.1 GFLOPs,
8x8 65.7 GFLOPs per view); test/test_models_slowfast.py asserts this file's own counts.
"""
from __future__ import annotations

import torch
from torch import nn

from .clip_checks import check_clips, check_head_args

ALPHA = 8  # frame-rate ratio fast/slow (the paper's 4x16 instantiation: T=4 slow frames, 32 fast)
BETA_INV = 8  # channel ratio slow/fast
FUSION_CHANNEL_RATIO = 2  # lateral output channels: 2 * beta * C
FUSION_KERNEL = 5  # temporal kernel of the time-strided lateral conv
STAGE_WIDTHS = (64, 128, 256, 512)  # res2..res5, slow pathway; the fast one has 1/BETA_INV of each
STAGE_DEPTHS = (2, 2, 2, 2)  # ResNet-18
STAGE_STRIDES = (1, 2, 2, 2)  # spatial stride of each stage's first block
SLOW_TEMPORAL_KERNELS = (1, 1, 3, 3)
FAST_TEMPORAL_KERNELS = (3, 3, 3, 3)
SLOW_STEM_TEMPORAL_KERNEL, FAST_STEM_TEMPORAL_KERNEL = 1, 5
STEM_WIDTH = 64
DROPOUT_RATE = 0.5
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)


def batch_norm(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=1e-5, momentum=0.1)


class Stem(nn.Module):
    """k x 7 x 7 conv (spatial stride 2), BN, ReLU, 1x3x3 max pool (spatial stride 2): the paper's conv1+pool1."""

    def __init__(self, dim_out: int, temporal_kernel: int):
        super().__init__()
        self.conv = nn.Conv3d(3, dim_out, (temporal_kernel, 7, 7), stride=(1, 2, 2),
                              padding=(temporal_kernel // 2, 3, 3), bias=False)
        self.bn = batch_norm(dim_out)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.bn(self.conv(x))))


class BasicBlock(nn.Module):
    """ResNet basic block in 3D: k x 3 x 3 conv, BN, ReLU, 1x3x3 conv, BN, plus the (projected) shortcut."""

    def __init__(self, dim_in: int, dim_out: int, temporal_kernel: int, stride: int):
        super().__init__()
        self.a = nn.Conv3d(dim_in, dim_out, (temporal_kernel, 3, 3), stride=(1, stride, stride),
                           padding=(temporal_kernel // 2, 1, 1), bias=False)
        self.a_bn = batch_norm(dim_out)
        self.b = nn.Conv3d(dim_out, dim_out, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.b_bn = batch_norm(dim_out)
        self.relu = nn.ReLU(inplace=True)
        if dim_in != dim_out or stride != 1:
            self.shortcut = nn.Sequential(
                nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False), batch_norm(dim_out))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.a_bn(self.a(x)))
        out = self.b_bn(self.b(out))
        return self.relu(out + self.shortcut(x))


def make_stage(dim_in: int, dim_out: int, depth: int, temporal_kernel: int, stride: int) -> nn.Sequential:
    """`depth` basic blocks; the first changes width and spatial stride."""
    return nn.Sequential(*(BasicBlock(dim_in if i == 0 else dim_out, dim_out, temporal_kernel,
                                      stride if i == 0 else 1) for i in range(depth)))


class FastToSlow(nn.Module):
    """Time-strided lateral conv: fast features (N, C_f, T, H, W) to (N, 2 C_f, ceil(T / alpha), H, W)."""

    def __init__(self, fast_channels: int, alpha: int):
        super().__init__()
        self.conv = nn.Conv3d(fast_channels, fast_channels * FUSION_CHANNEL_RATIO, (FUSION_KERNEL, 1, 1),
                              stride=(alpha, 1, 1), padding=(FUSION_KERNEL // 2, 0, 0), bias=False)
        self.bn = batch_norm(fast_channels * FUSION_CHANNEL_RATIO)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return torch.cat([slow, self.relu(self.bn(self.conv(fast)))], dim=1)


class SlowFast(nn.Module):
    """Two ResNet pathways over one clip, fused fast->slow after the stem and res2..res4."""

    def __init__(self, num_classes: int = 400, dropout_rate: float = DROPOUT_RATE, alpha: int = ALPHA,
                 beta_inv: int = BETA_INV):
        super().__init__()
        check_head_args(num_classes, dropout_rate)
        self.alpha = alpha
        self.num_classes = num_classes
        fast_widths = [w // beta_inv for w in STAGE_WIDTHS]
        self.slow_stem = Stem(STEM_WIDTH, SLOW_STEM_TEMPORAL_KERNEL)
        self.fast_stem = Stem(STEM_WIDTH // beta_inv, FAST_STEM_TEMPORAL_KERNEL)
        self.fuse = nn.ModuleList([FastToSlow(STEM_WIDTH // beta_inv, alpha)])
        self.slow_stages, self.fast_stages = nn.ModuleList(), nn.ModuleList()
        slow_in, fast_in = STEM_WIDTH, STEM_WIDTH // beta_inv
        for i, (width, fast_width) in enumerate(zip(STAGE_WIDTHS, fast_widths)):
            slow_in += fast_in * FUSION_CHANNEL_RATIO  # the lateral concatenated before this stage
            self.slow_stages.append(make_stage(slow_in, width, STAGE_DEPTHS[i], SLOW_TEMPORAL_KERNELS[i],
                                               STAGE_STRIDES[i]))
            self.fast_stages.append(make_stage(fast_in, fast_width, STAGE_DEPTHS[i], FAST_TEMPORAL_KERNELS[i],
                                               STAGE_STRIDES[i]))
            slow_in, fast_in = width, fast_width
            if i < len(STAGE_WIDTHS) - 1:
                self.fuse.append(FastToSlow(fast_width, alpha))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout_rate)
        self.projection = nn.Linear(slow_in + fast_in, num_classes)
        init_weights(self)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips: (N, 3, T, H, W), T >= alpha fast-pathway frames, normalised RGB; returns logits (N, classes)."""
        check_clips(clips, "SlowFast", min_frames=self.alpha)
        slow, fast = self.slow_stem(clips[:, :, ::self.alpha]), self.fast_stem(clips)
        slow = self.fuse[0](slow, fast)
        for i, (slow_stage, fast_stage) in enumerate(zip(self.slow_stages, self.fast_stages)):
            slow, fast = slow_stage(slow), fast_stage(fast)
            if i + 1 < len(self.fuse):
                slow = self.fuse[i + 1](slow, fast)
        features = torch.cat([self.pool(slow).flatten(1), self.pool(fast).flatten(1)], dim=1)
        return self.projection(self.dropout(features))


def init_weights(model: nn.Module, fc_std: float = 0.01) -> None:
    """SlowFast's init: Kaiming convs, unit BN except zero on each block's last BN, small-std classifier."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=fc_std)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, BasicBlock):
            nn.init.zeros_(module.b_bn.weight)


def build_slowfast_r18(num_classes: int = 400, dropout_rate: float = DROPOUT_RATE) -> SlowFast:
    """SlowFast 4x16 with ResNet-18 pathways (alpha 8, beta 1/8): 32 fast frames in, 4 of them slow."""
    return SlowFast(num_classes, dropout_rate)


ENTRIES: dict[str, dict] = {
    "slowfast_r18": {
        "builder": build_slowfast_r18,
        "frames": 32,  # fast pathway; the slow one takes every ALPHA-th: 4 (SLOWFAST_4x16 DATA.NUM_FRAMES 32)
        "sampling_rate": 2,  # SLOWFAST_4x16 configs: DATA.SAMPLING_RATE 2 (slow stride 16 = 2 * alpha)
        "train_crop": 224,
        "test_crop": 256,
        "mean": KINETICS_MEAN,
        "std": KINETICS_STD,
        "params": None,  # unpublished for R18 pathways; ours: 21,779,704 at 400 classes (with BN)
        "gflops": None,  # unpublished; ours: see test/test_models_slowfast.py (at figures_input)
        "figures_input": (32, 224, 224),  # where our own counts are taken
        "checkpoint": None,  # no published R18 SlowFast checkpoint
        "source": "Feichtenhofer et al., SlowFast Networks for Video Recognition, ICCV 2019 (arXiv:1812.03982), "
                  "Table 1 scaled to ResNet-18; github.com/facebookresearch/SlowFast (FuseFastToSlow, "
                  "BasicTransform); R18 pathways as the seeds' 'ar' repo describes",
        "classes_note": "no published figure; our counts are for the 400-class Kinetics head",
    },
}
