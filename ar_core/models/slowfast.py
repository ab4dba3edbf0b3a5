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

No figure is published for R18 pathways. The same code with the paper's R50 bottlenecks ([3, 4, 6, 3],
`build_slowfast_r50`) reproduces the published R50 figures, which checks the laterals and temporal kernels:
8x8 (alpha 4, lateral kernel 7): 34,566,488 parameters (pytorchvideo's 34.57 M) and 65.71 GFLOPs at 32x256x256
(the paper's Table 2: 65.7); 4x16 (alpha 8): 36.10 GFLOPs (Table 2: 36.1). The paper counts at 256 px (its
test crop), so our own R18 figures are taken there too: 21,779,704 parameters, 19.10 GFLOPs per 32x256x256 view
(14.62 at the 224 train crop). test/test_models_slowfast.py asserts all of these.
"""
from __future__ import annotations

import torch
from torch import nn

from .clip_checks import check_clips, check_head_args
from .resnet3d import init_weights

ALPHA = 8  # frame-rate ratio fast/slow (the paper's 4x16 instantiation: T=4 slow frames, 32 fast)
BETA_INV = 8  # channel ratio slow/fast
FUSION_CHANNEL_RATIO = 2  # lateral output channels: 2 * beta * C
FUSION_KERNEL = 5  # temporal kernel of the time-strided lateral conv
STAGE_WIDTHS = (64, 128, 256, 512)  # res2..res5, slow pathway; the fast one has 1/BETA_INV of each
STAGE_DEPTHS = (2, 2, 2, 2)  # ResNet-18
R50_DEPTHS = (3, 4, 6, 3)  # the paper's SlowFast-R50, to check this design against its published figures
BOTTLENECK_EXPANSION = 4
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
        self.shortcut = projection_shortcut(dim_in, dim_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.a_bn(self.a(x)))
        out = self.b_bn(self.b(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """ResNet-50 block in 3D (the paper's R50 pathways): k x 1 x 1 conv to the inner width, 1x3x3, 1x1x1 out."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int):
        super().__init__()
        self.a = nn.Conv3d(dim_in, dim_inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0),
                           bias=False)
        self.a_bn = batch_norm(dim_inner)
        self.b = nn.Conv3d(dim_inner, dim_inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1),
                           bias=False)
        self.b_bn = batch_norm(dim_inner)
        self.c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.c_bn = batch_norm(dim_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = projection_shortcut(dim_in, dim_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.a_bn(self.a(x)))
        out = self.relu(self.b_bn(self.b(out)))
        return self.relu(self.c_bn(self.c(out)) + self.shortcut(x))


def projection_shortcut(dim_in: int, dim_out: int, stride: int) -> nn.Module:
    """A 1x1x1 conv + BN where width or resolution change, else the identity."""
    if dim_in == dim_out and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False), batch_norm(dim_out))


def make_stage(dim_in: int, width: int, depth: int, temporal_kernel: int, stride: int,
               bottleneck: bool = False) -> nn.Sequential:
    """`depth` blocks of `width` (a bottleneck's inner width; its output is 4x); the first changes width and
    spatial stride."""
    dim_out = width * BOTTLENECK_EXPANSION if bottleneck else width
    blocks: list[nn.Module] = []
    for i in range(depth):
        block_in, block_stride = (dim_in, stride) if i == 0 else (dim_out, 1)
        blocks.append(Bottleneck(block_in, width, dim_out, temporal_kernel, block_stride) if bottleneck
                      else BasicBlock(block_in, dim_out, temporal_kernel, block_stride))
    return nn.Sequential(*blocks)


class FastToSlow(nn.Module):
    """Time-strided lateral conv: fast features (N, C_f, T, H, W) to (N, 2 C_f, ceil(T / alpha), H, W)."""

    def __init__(self, fast_channels: int, alpha: int, kernel: int = FUSION_KERNEL):
        super().__init__()
        self.conv = nn.Conv3d(fast_channels, fast_channels * FUSION_CHANNEL_RATIO, (kernel, 1, 1),
                              stride=(alpha, 1, 1), padding=(kernel // 2, 0, 0), bias=False)
        self.bn = batch_norm(fast_channels * FUSION_CHANNEL_RATIO)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        return torch.cat([slow, self.relu(self.bn(self.conv(fast)))], dim=1)


class SlowFast(nn.Module):
    """Two ResNet pathways over one clip, fused fast->slow after the stem and res2..res4."""

    def __init__(self, num_classes: int = 400, dropout_rate: float = DROPOUT_RATE, alpha: int = ALPHA,
                 beta_inv: int = BETA_INV, depths: tuple[int, ...] = STAGE_DEPTHS, bottleneck: bool = False,
                 fusion_kernel: int = FUSION_KERNEL):
        super().__init__()
        check_head_args(num_classes, dropout_rate)
        self.alpha = alpha
        self.num_classes = num_classes
        expansion = BOTTLENECK_EXPANSION if bottleneck else 1
        self.slow_stem = Stem(STEM_WIDTH, SLOW_STEM_TEMPORAL_KERNEL)
        self.fast_stem = Stem(STEM_WIDTH // beta_inv, FAST_STEM_TEMPORAL_KERNEL)
        self.fuse = nn.ModuleList([FastToSlow(STEM_WIDTH // beta_inv, alpha, fusion_kernel)])
        self.slow_stages, self.fast_stages = nn.ModuleList(), nn.ModuleList()
        slow_in, fast_in = STEM_WIDTH, STEM_WIDTH // beta_inv
        for i, width in enumerate(STAGE_WIDTHS):
            slow_in += fast_in * FUSION_CHANNEL_RATIO  # the lateral concatenated before this stage
            self.slow_stages.append(make_stage(slow_in, width, depths[i], SLOW_TEMPORAL_KERNELS[i],
                                               STAGE_STRIDES[i], bottleneck))
            self.fast_stages.append(make_stage(fast_in, width // beta_inv, depths[i], FAST_TEMPORAL_KERNELS[i],
                                               STAGE_STRIDES[i], bottleneck))
            slow_in, fast_in = width * expansion, width // beta_inv * expansion
            if i < len(STAGE_WIDTHS) - 1:
                self.fuse.append(FastToSlow(fast_in, alpha, fusion_kernel))
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


def build_slowfast_r18(num_classes: int = 400, dropout_rate: float = DROPOUT_RATE) -> SlowFast:
    """SlowFast 4x16 with ResNet-18 pathways (alpha 8, beta 1/8): 32 fast frames in, 4 of them slow."""
    return SlowFast(num_classes, dropout_rate)


def build_slowfast_r50(num_classes: int = 400, dropout_rate: float = DROPOUT_RATE, alpha: int = 4) -> SlowFast:
    """The paper's SlowFast-R50 (bottlenecks [3, 4, 6, 3]): alpha 4 is 8x8 (lateral kernel 7, as the SlowFast
    configs), alpha 8 is 4x16 (kernel 5). Not a zoo entry: it checks this file's design against the paper's
    published R50 figures (test/test_models_slowfast.py)."""
    return SlowFast(num_classes, dropout_rate, alpha=alpha, depths=R50_DEPTHS, bottleneck=True,
                    fusion_kernel=7 if alpha == 4 else FUSION_KERNEL)


ENTRIES: dict[str, dict] = {
    "slowfast_r18": {
        "title": "SlowFast-R18", "builder": build_slowfast_r18,
        "frames": 32,  # fast pathway; the slow one takes every ALPHA-th: 4 (SLOWFAST_4x16 DATA.NUM_FRAMES 32)
        "sampling_rate": 2,  # SLOWFAST_4x16 configs: DATA.SAMPLING_RATE 2 (slow stride 16 = 2 * alpha)
        "train_crop": 224,
        "test_crop": 256,
        "mean": KINETICS_MEAN,
        "std": KINETICS_STD,
        "params": None,  # unpublished for R18 pathways; ours: 21,779,704 at 400 classes (with BN)
        "gflops": None,  # unpublished; ours: 19.10 at figures_input (14.62 at 224 px)
        "figures_input": (32, 256, 256),  # where our own counts are taken: the paper counts SlowFast at 256 px
        "checkpoint": None,  # no published R18 SlowFast checkpoint
        "source": "Feichtenhofer et al., SlowFast Networks for Video Recognition, ICCV 2019 (arXiv:1812.03982), "
                  "Table 1 scaled to ResNet-18; github.com/facebookresearch/SlowFast (FuseFastToSlow, "
                  "BasicTransform); R18 pathways as the seeds' 'ar' repo describes",
        "classes_note": "no published figure; our counts are for the 400-class Kinetics head",
    },
}
