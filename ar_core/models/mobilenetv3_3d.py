"""MobileNetV3-Large made 3D, as OpenVINO Training Extensions (OTE) ships it for custom action recognition.

Two entries, both MobileNetV3-Large's inverted residual blocks (Howard et al., "Searching for MobileNetV3", ICCV 2019,
Table 1: kernel, expansion, output width, SE, h-swish, stride per block) on clips of 16 frames at 224 px:

- `s3d_mobilenetv3` (OTE "s3d-rgb-mobilenet-v3"): each block's depthwise conv stays spatial (1xkxk) and its
  pointwise-linear projection becomes a temporal kx1x1 conv, S3D's separation (Xie et al., "Rethinking
  Spatiotemporal Feature Learning", ECCV 2018); temporal stride 2 in blocks 1 and 10 (a kx1x1 conv then a 2x1x1
  average pool). Identity blocks carry OTE's Gaussian branch noise in training (`GaussianBranchNoise`).
- `x3d_mobilenetv3` (OTE "x3d-rgb-mobilenet-v3-lgd-gc"): X3D-style blocks (Feichtenhofer, CVPR 2020): the depthwise
  conv is kt x k x k (temporal stride 2 in blocks 4 and 10), beside a global path as in LGD (Qiu et al.,
  "Learning Spatio-Temporal Representation with Local and Global Diffusion", CVPR 2019): after every block a
  pooled descriptor updates a global vector, which is added back to the next block's output. "GC" is the pooling
  of that path: global-context attention pooling (a 1x1x1 conv scores every position, softmax over T*H*W,
  Cao et al., "GCNet", ICCVW 2019) instead of an average.

Both end in OTE's `ClsHead` with `embedding=True`: 1x1x1 conv 960 -> 256 + BN, L2 normalisation, and a cosine
classifier (unit class vectors, no bias). OTE trains it with AM-Softmax whose scale decays from 30 to 5
(`PolyScalarScheduler`, end_scale=5.0) and outputs the raw cosines; ours multiplies the cosines by that final scale,
`COSINE_SCALE`, so the output are logits for plain cross-entropy and a softmax. OTE's head pools with a fixed
4x7x7 average (`AverageSpatialTemporalModule`, the 16x224 input's last map); ours pools adaptively, the same at
that input and valid at any other.

Sources (read for names, shapes and numbers; nothing copied):
- configs: github.com/openvinotoolkit/training_extensions, models/action_recognition/model_templates/
  custom-action-recognition/s3d-rgb-mobilenet-v3/model.py (commit 0edbf8926af1fffc62c04dd56255e76df7628905) and
  x3d-rgb-mobilenet-v3-lgd-gc/model.py (commit 72a7e69ced5c48a4c5b42c2a88b85e0aedbc12bd); figures from that
  folder's README.md ("Size (Mp)" 4.116 / 4.472, "Complexity (GFLOPs)" 6.65 / 4.74, Kinetics-700 snapshots).
- backbone and head code: OTE's mmaction2 fork (external/mmaction), read from the mirror
  github.com/sshyran/openvino-action-recognition-mmaction2 at 17cf1888cef7e9e178690ef207dc92ba6dbfe715:
  mmaction/models/backbones/{mobilenetv3, mobilenetv3_s3d, mobilenetv3_lgd}.py, mmaction/core/ops/{conv,
  dropout}.py, mmaction/models/heads/cls_head.py, mmaction/core/ops/linear.py (AngleMultipleLinear).

Module names follow OTE's (`backbone.features.{i}.conv.{j}`, `backbone.conv`, `backbone.lgd_{upsample,pool,glob}`,
`cls_head.fc_pre_angular`, `cls_head.fc_angular.weight` of shape (256, classes)), so that a snapshot's
`state_dict` should load after dropping OTE's extra buffer `cls_head.fc_angular.reg_mask`; not checked against the
snapshot files (not downloaded here).

Counts against OTE's README (700 classes, one 16x224x224 clip; test/test_models_mobilenetv3_3d.py asserts them).
OTE's tools/get_flops.py reports ptflops' parameter count and 2 x ptflops' MACs (convs with their bias adds,
BatchNorms, ReLU6s, pools; functional ops such as the matmuls and softmax are not counted):

    entry             params (all / no BN / no cosine weights)   README   conv+matmul GMACs   OTE-style GFLOPs  README
    s3d_mobilenetv3   4,294,270 / 4,270,510 / 4,115,070          4.116 M  3.226               6.73 (+1.2%)      6.65
    x3d_mobilenetv3   4,660,018 / 4,615,238 / 4,480,818          4.472 M  2.253               4.80 (+1.3%)      4.74

The README's sizes match ours without the cosine weights (ptflops counts every parameter, so the table's models
likely had heads of a few classes): the s3d count is 0.03% under 4.116 M, the x3d count 0.2% (8,818) over 4.472 M,
a gap the configs and code read do not explain (its snapshot is named "-fixed"; widths are kept as configured).

What is left out: only OTE's training-only extras (AM-Softmax margin and scale schedule, class-centre push and
local push losses, clip mixing). The global path is built in full as the config enables it (mix_paths
0,1,...,1: 14 pooling, 13 glob, 14 upsample blocks). As in OTE, its BatchNorms see one value per clip, so
training needs batches of two clips or more.

The channel count of the input (3) and the shortest clip (`min_frames`) are checked at the top of `forward`:
both are static in an export, so the check costs nothing there.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .x3d import batch_norm, round_width

KINETICS_CLASSES = 400
OTE_CLASSES = 700  # OTE's snapshots and its README figures: Kinetics-700 heads
EMBEDDING_WIDTH = 256  # ClsHead embd_size
LGD_FACTOR = 3  # channel_factor: hidden width of the global path's 1x1x1 pairs
SE_REDUCTION = 4
COSINE_SCALE = 5.0  # AM-Softmax's final scale in OTE's schedule (start 30, end 5)
DROPOUT_RATE = 0.0  # ClsHead dropout_ratio=None in both configs
BRANCH_NOISE_MU, BRANCH_NOISE_SIGMA = 0.1, 0.03  # s3d dropout_cfg: dist='gaussian', mu=0.1, sigma=0.03
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # img_norm_cfg mean [123.675, 116.28, 103.53] / 255
IMAGENET_STD = (0.229, 0.224, 0.225)  # img_norm_cfg std [58.395, 57.12, 57.375] / 255

# MobileNetV3-Large (the paper's Table 1; OTE MobileNetV3.arch_settings['large']):
# (kernel, expansion width, output width, squeeze-excite, h-swish, spatial stride) per block 0..14.
LARGE_BLOCKS: tuple[tuple[int, int, int, bool, bool, int], ...] = (
    (3, 16, 16, False, False, 1), (3, 64, 24, False, False, 2), (3, 72, 24, False, False, 1),
    (5, 72, 40, True, False, 2), (5, 120, 40, True, False, 1), (5, 120, 40, True, False, 1),
    (3, 240, 80, False, True, 2), (3, 200, 80, False, True, 1), (3, 184, 80, False, True, 1),
    (3, 184, 80, False, True, 1), (3, 480, 112, True, True, 1), (3, 672, 112, True, True, 1),
    (5, 672, 160, True, True, 1), (5, 672, 160, True, True, 2), (5, 960, 160, True, True, 1),
)
STEM_WIDTH = 16
# Per block 0..14, from the two configs (both list the same temporal kernels).
TEMPORAL_KERNELS = (5, 3, 3, 3, 3, 5, 5, 3, 3, 5, 3, 3, 3, 3, 3)
S3D_TEMPORAL_STRIDES = (1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1)
X3D_TEMPORAL_STRIDES = (1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1)
X3D_MIX_PATHS = (0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)


def conv_bn(dim_in: int, dim_out: int, kernel: tuple[int, int, int] = (1, 1, 1),
            stride: tuple[int, int, int] = (1, 1, 1), groups: int = 1) -> list[nn.Module]:
    """A bias-free conv, padded to keep the size at stride 1, and its BatchNorm (OTE's conv_*_bn helpers)."""
    padding = tuple((k - 1) // 2 for k in kernel)
    return [nn.Conv3d(dim_in, dim_out, kernel, stride=stride, padding=padding, groups=groups, bias=False),
            batch_norm(dim_out)]


def activation(hswish: bool) -> nn.Module:
    return nn.Hardswish() if hswish else nn.ReLU(inplace=True)


class FrameSqueezeExcitation(nn.Module):
    """MobileNetV3's SE per frame: OTE pools H and W only (reduce_temporal=False), so every frame gets its own
    channel gates; hard-sigmoid gates, biased 1x1x1 convs."""

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        self.fc = nn.Sequential(nn.Conv3d(channels, channels // reduction, 1), nn.ReLU(inplace=True),
                                nn.Conv3d(channels // reduction, channels, 1), nn.Hardsigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(3, 4), keepdim=True))


class GaussianBranchNoise(nn.Module):
    """OTE's `Dropout(dist='gaussian')` on an identity block's residual branch: in training the branch is
    multiplied by clamp(N(mu, sigma), 0, 1) / mu (mean 1); in eval it passes unchanged."""

    def __init__(self, mu: float = BRANCH_NOISE_MU, sigma: float = BRANCH_NOISE_SIGMA):
        super().__init__()
        self.mu, self.sigma = mu, sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        with torch.no_grad():
            mask = torch.empty_like(x).normal_(self.mu, self.sigma).clamp_(0.0, 1.0)
        return x * mask / self.mu

    def extra_repr(self) -> str:
        return f"mu={self.mu}, sigma={self.sigma}"


class InvertedResidual3d(nn.Module):
    """MobileNetV3's block in 3D, OTE's `InvertedResidual_S3D`.

    `depthwise_temporal` (X3D style): pw 1x1x1, dw kt x k x k (temporal stride here), SE, activation, pw-linear
    1x1x1. Otherwise (S3D style): pw 1x1x1, dw 1xkxk, SE, activation, then the projection is a kt x 1 x 1 conv,
    followed by an average pool where the block strides in time. Blocks whose expansion equals their input skip
    the first pw (their activation then comes before SE). The layer order keeps OTE's indices in `conv`.
    """

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int, kernel: int, temporal_kernel: int,
                 spatial_stride: int, temporal_stride: int, use_se: bool, hswish: bool, depthwise_temporal: bool,
                 branch_noise: Callable[[], nn.Module] | None = None):
        super().__init__()
        self.identity = spatial_stride == 1 and temporal_stride == 1 and dim_in == dim_out
        se: nn.Module = FrameSqueezeExcitation(dim_inner) if use_se else nn.Identity()
        if dim_in == dim_inner:
            layers = [*conv_bn(dim_inner, dim_inner, (1, kernel, kernel), (1, spatial_stride, spatial_stride),
                               groups=dim_inner), activation(hswish), se]
        else:
            depthwise = (temporal_kernel if depthwise_temporal else 1, kernel, kernel)
            stride = (temporal_stride if depthwise_temporal else 1, spatial_stride, spatial_stride)
            layers = [*conv_bn(dim_in, dim_inner), activation(hswish),
                      *conv_bn(dim_inner, dim_inner, depthwise, stride, groups=dim_inner), se, activation(hswish)]
        if depthwise_temporal:
            layers += conv_bn(dim_inner, dim_out)
        else:
            layers += conv_bn(dim_inner, dim_out, (temporal_kernel, 1, 1))
            if temporal_stride > 1:  # use_temporal_avg_pool=True in the s3d config
                layers.append(nn.AvgPool3d((temporal_stride, 1, 1), stride=(temporal_stride, 1, 1),
                                           padding=((temporal_stride - 1) // 2, 0, 0)))
        self.conv = nn.Sequential(*layers)
        self.dropout = branch_noise() if branch_noise is not None and self.identity else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.dropout is not None:
            y = self.dropout(y)
        return x + y if self.identity else y


class ContextPool3d(nn.Module):
    """Global-context pooling (GC): a 1x1x1 conv + BN scores every position, softmax over T*H*W weights the
    average: (N, C, T, H, W) -> (N, C, 1, 1, 1)."""

    def __init__(self, channels: int):
        super().__init__()
        self.encoder = nn.Sequential(*conv_bn(channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.encoder(x).flatten(2), dim=2)  # (N, 1, THW)
        return torch.matmul(x.flatten(2), weights.transpose(1, 2)).unsqueeze(-1).unsqueeze(-1)


def pointwise_pair(dim_in: int, dim_out: int, factor: int = LGD_FACTOR) -> list[nn.Module]:
    """1x1x1 conv to `factor` x the width + BN, h-swish, 1x1x1 conv + BN: each transform of LGD's global path."""
    hidden = int(factor * dim_in)
    return [*conv_bn(dim_in, hidden), nn.Hardswish(), *conv_bn(hidden, dim_out)]


class PoolingBlock(nn.Module):
    """Local -> global: pool a block's output (GC attention pooling) and transform it."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Sequential(ContextPool3d(channels), *pointwise_pair(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class GlobBlock(nn.Module):
    """Global -> global: carry the global vector to the next block's width (residual where widths agree)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.identity = dim_in == dim_out
        self.conv = nn.Sequential(*pointwise_pair(dim_in, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.identity else self.conv(x)


class UpsampleBlock(nn.Module):
    """Global -> local: the global vector, transformed, is added to every position of a block's output. Its last
    BN starts at zero so that the global path starts switched off (OTE's `_reset_weights`)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.conv = nn.Sequential(*pointwise_pair(dim_in, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class MobileNetV3Backbone(nn.Module):
    """Stem (1x3x3 conv stride 2, BN, h-swish), the 15 blocks of `LARGE_BLOCKS`, 1x1x1 conv to 960 + h-swish.

    `mix_paths` (one flag per block) switches on LGD's global path (OTE `MobileNetV3_LGD`). OTE indexes the
    flagged blocks in `features`, whose entry 0 is the stem, so flags 0,1,...,1 make the stem and blocks 0..12
    feed the global path and blocks 0..13 receive it; block 14 neither, as in OTE.
    """

    def __init__(self, temporal_strides: Sequence[int], depthwise_temporal: bool,
                 branch_noise: Callable[[], nn.Module] | None = None, mix_paths: Sequence[int] | None = None):
        super().__init__()
        width = round_width(STEM_WIDTH, 1.0)
        layers: list[nn.Module] = [nn.Sequential(*conv_bn(3, width, (1, 3, 3), (1, 2, 2)), nn.Hardswish())]
        widths = [width]
        for (kernel, inner, out, use_se, hswish, stride), temporal_kernel, temporal_stride in zip(
                LARGE_BLOCKS, TEMPORAL_KERNELS, temporal_strides, strict=True):
            out = round_width(out, 1.0)
            layers.append(InvertedResidual3d(width, inner, out, kernel, temporal_kernel, stride, temporal_stride,
                                             use_se, hswish, depthwise_temporal, branch_noise))
            width = out
            widths.append(width)
        self.features = nn.ModuleList(layers)
        self.out_channels = round_width(LARGE_BLOCKS[-1][1], 1.0)
        self.conv = nn.Sequential(nn.Sequential(*conv_bn(width, self.out_channels), nn.Hardswish()), nn.Identity())
        self.lgd_upsample = self.lgd_pool = self.lgd_glob = None
        self.to_local: tuple[int, ...] = ()
        self.to_global: tuple[int, ...] = ()
        if mix_paths is not None:
            if len(mix_paths) != len(LARGE_BLOCKS) or mix_paths[0] or not any(mix_paths):
                raise ValueError(f"mix_paths needs {len(LARGE_BLOCKS)} flags, the first 0 and one or more set, "
                                 f"got {tuple(mix_paths)}")
            mixed = [i for i, flag in enumerate(mix_paths) if flag]
            self.to_local = tuple(mixed)  # features whose output receives the global vector
            self.to_global = (mixed[0] - 1, *mixed[:-1])  # features whose output updates it
            self.lgd_upsample = nn.ModuleDict({f"upsample_{i}": UpsampleBlock(widths[g], widths[i])
                                               for i, g in zip(self.to_local, self.to_global)})
            self.lgd_pool = nn.ModuleDict({f"pooling_{i}": PoolingBlock(widths[i]) for i in self.to_global})
            self.lgd_glob = nn.ModuleDict({f"glob_{i}": GlobBlock(widths[g], widths[i])
                                           for i, g in zip(self.to_global[1:], self.to_global)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        glob = None
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self.to_local:
                x = x + self.lgd_upsample[f"upsample_{index}"](glob)
            if index in self.to_global:
                pooled = self.lgd_pool[f"pooling_{index}"](x)
                glob = pooled if glob is None else self.lgd_glob[f"glob_{index}"](glob) + pooled
        return self.conv(x)


class CosineHead(nn.Module):
    """OTE's ClsHead with an embedding: average pool, dropout, 1x1x1 conv + BN to 256, L2 normalisation, cosine
    to each class's unit vector, times `scale`."""

    def __init__(self, dim_in: int, num_classes: int, dropout: float = DROPOUT_RATE,
                 embedding: int = EMBEDDING_WIDTH, scale: float = COSINE_SCALE):
        super().__init__()
        self.scale = scale
        self.dropout = nn.Dropout(dropout)
        self.fc_pre_angular = nn.Sequential(*conv_bn(dim_in, embedding))
        self.fc_angular = nn.Module()
        self.fc_angular.weight = nn.Parameter(torch.randn(embedding, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(F.adaptive_avg_pool3d(x, 1))
        embedding = F.normalize(self.fc_pre_angular(x).flatten(1), dim=1)
        return self.scale * embedding.mm(F.normalize(self.fc_angular.weight, dim=0))


class MobileNetV3Video(nn.Module):
    """A MobileNetV3 video classifier: clips (N, 3, T, H, W), normalised RGB -> logits (N, num_classes)."""

    def __init__(self, backbone: MobileNetV3Backbone, num_classes: int, dropout: float, min_frames: int):
        super().__init__()
        self.num_classes = num_classes
        self.min_frames = min_frames
        self.backbone = backbone
        self.cls_head = CosineHead(backbone.out_channels, num_classes, dropout)
        init_weights(self)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.dim() != 5 or clips.shape[1] != 3 or clips.shape[2] < self.min_frames:
            raise ValueError(f"expected clips of shape (N, 3, T, H, W) with T >= {self.min_frames}, "
                             f"got {tuple(clips.shape)}")
        return self.cls_head(self.backbone(clips))


def init_weights(model: nn.Module) -> None:
    """Kaiming (fan-out) convs with zero biases, unit BNs, except the zero last BN of each LGD upsample block."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, UpsampleBlock):
            nn.init.zeros_(module.conv[-1].weight)
            nn.init.zeros_(module.conv[-1].bias)


def _check(num_classes: int, dropout_rate: float) -> None:
    if num_classes < 2:
        raise ValueError(f"num_classes must be 2 or more (a cosine classifier), got {num_classes}")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")


def build_s3d_mobilenetv3(num_classes: int = KINETICS_CLASSES, dropout_rate: float = DROPOUT_RATE) -> MobileNetV3Video:
    """OTE's s3d-rgb-mobilenet-v3: spatial depthwise, temporal projections; clips of 4 frames or more (two
    temporal halvings by 2x1x1 average pools without padding)."""
    _check(num_classes, dropout_rate)
    backbone = MobileNetV3Backbone(S3D_TEMPORAL_STRIDES, depthwise_temporal=False, branch_noise=GaussianBranchNoise)
    return MobileNetV3Video(backbone, num_classes, dropout_rate, min_frames=4)


def build_x3d_mobilenetv3(num_classes: int = KINETICS_CLASSES, dropout_rate: float = DROPOUT_RATE) -> MobileNetV3Video:
    """OTE's x3d-rgb-mobilenet-v3-lgd-gc: spatio-temporal depthwise convs and the LGD global path with GC pooling;
    any clip length (its temporal strides are padded convs)."""
    _check(num_classes, dropout_rate)
    backbone = MobileNetV3Backbone(X3D_TEMPORAL_STRIDES, depthwise_temporal=True, mix_paths=X3D_MIX_PATHS)
    return MobileNetV3Video(backbone, num_classes, dropout_rate, min_frames=1)


_OTE = ("OpenVINO Training Extensions, models/action_recognition/model_templates/custom-action-recognition/{}; "
        "backbone: OTE mmaction2 fork, mmaction/models/backbones/{} (see ar_core/models/mobilenetv3_3d.py)")
_CLASSES_NOTE = ("OTE's README figures are for its Kinetics-700 snapshot (700-class head: 256 x 700 cosine "
                 "weights); Kinetics-400 heads have 76,800 fewer parameters")

ENTRIES: dict[str, dict] = {
    "s3d_mobilenetv3": {
        "title": "S3D-MobileNetV3", "builder": build_s3d_mobilenetv3,
        "frames": 16,  # input_clip_length
        "sampling_rate": 2,  # StreamSampleFrames trg_fps=15: every 2nd frame of a 30 fps video
        "train_crop": 224,
        "test_crop": 224,  # resize short side 256, centre crop 224
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "params": 4_116_000,  # README "Size (Mp)" 4.116
        "gflops": 6.65,  # README "Complexity (GFLOPs)"
        "figures_input": (16, 224, 224),
        "checkpoint": "s3d-mobilenetv3-large-kinetics700.pth",
        "source": "Howard et al., Searching for MobileNetV3, ICCV 2019; Xie et al., S3D, ECCV 2018; "
                  + _OTE.format("s3d-rgb-mobilenet-v3/model.py", "mobilenetv3_s3d.py"),
        "classes_note": _CLASSES_NOTE,
    },
    "x3d_mobilenetv3": {
        "title": "X3D-MobileNetV3", "builder": build_x3d_mobilenetv3,
        "frames": 16,  # input_clip_length
        "sampling_rate": 2,  # SampleFrames frame_interval=2
        "train_crop": 224,
        "test_crop": 224,
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "params": 4_472_000,  # README "Size (Mp)" 4.472
        "gflops": 4.74,  # README "Complexity (GFLOPs)"
        "figures_input": (16, 224, 224),
        "checkpoint": "x3d-mobilenetv3-large-kinetics700-youtube8msegments-fixed.pth",
        "source": "Howard et al., Searching for MobileNetV3, ICCV 2019; Feichtenhofer, X3D, CVPR 2020; Qiu et al., "
                  "LGD, CVPR 2019; Cao et al., GCNet, ICCVW 2019; "
                  + _OTE.format("x3d-rgb-mobilenet-v3-lgd-gc/model.py", "mobilenetv3_lgd.py"),
        "classes_note": _CLASSES_NOTE,
    },
}
