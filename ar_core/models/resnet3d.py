"""R3D-18 and R(2+1)D-18 (Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition",
CVPR 2018, arXiv:1711.11248), laid out exactly as torchvision's `torchvision/models/video/resnet.py`.

Module names, registration order and shapes are torchvision's, so its published Kinetics-400 checkpoints
(`r3d_18-b3b3357e.pth`, `r2plus1d_18-91a641e6.pth`) load strictly and give its outputs:

    stem.{0,1,...}                          BasicStem: conv 3x7x7 /(1,2,2) -> BN -> ReLU
                                            R(2+1)D stem: conv 1x7x7 /(1,2,2) to 45 -> BN -> ReLU -> conv 3x1x1 to 64
                                            -> BN -> ReLU
    layer{1..4}.{0,1}.conv1.{0: conv, 1: BN}, .conv2.{0: conv, 1: BN}, layer{2..4}.0.downsample.{0: conv 1x1x1, 1: BN}
    fc                                      Linear(512, num_classes)

A (2+1)D conv (paper section 3.5, eq. 1) is Sequential(conv 1x3x3 to M, BN(M), ReLU, conv 3x1x1), with
M = floor(N_in * N_out * 27 / (9 * N_in + 3 * N_out)) so that it has the parameters of the 3x3x3 conv it replaces.
BatchNorm: PyTorch defaults (eps 1e-5, momentum 0.1). No dropout in torchvision (`dropout_rate` 0 keeps it so).

Figures checked (torchvision model docs, Kinetics-400, 400 classes, input 3x16x112x112): r3d_18 33,371,472
parameters, 40.70 GFLOPS; r2plus1d_18 31,505,325 parameters, 40.52 GFLOPS (multiply-adds; BatchNorm parameters
included in the parameter count).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .clip_checks import check_clips

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
STAGE_WIDTHS = (64, 128, 256, 512)
BLOCKS_PER_STAGE = (2, 2, 2, 2)
R2PLUS1D_STEM_MID = 45  # torchvision's fixed mid-plane count of the (2+1)D stem


def mid_planes(in_planes: int, out_planes: int) -> int:
    """Channels between the spatial and temporal convs of a (2+1)D conv: the 3x3x3 conv's parameter budget."""
    return (in_planes * out_planes * 27) // (in_planes * 9 + 3 * out_planes)


def conv3d_full(in_planes: int, out_planes: int, mid: int, stride: int = 1) -> nn.Module:
    """R3D's 3x3x3 convolution (`mid` unused: the builders share one signature)."""
    return nn.Conv3d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv2plus1d(in_planes: int, out_planes: int, mid: int, stride: int = 1) -> nn.Module:
    """R(2+1)D's factorised convolution: spatial 1x3x3 to `mid` planes, BN, ReLU, temporal 3x1x1."""
    return nn.Sequential(
        nn.Conv3d(in_planes, mid, kernel_size=(1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, out_planes, kernel_size=(3, 1, 1), stride=(stride, 1, 1), padding=(1, 0, 0), bias=False))


ConvBuilder = Callable[[int, int, int, int], nn.Module]


class BasicBlock(nn.Module):
    """Two convs with a residual; `downsample` (1x1x1 conv + BN, stride in T, H and W) where the shape changes.

    Both convs get the mid planes of (in_planes, planes), as in torchvision: the second conv (planes -> planes)
    keeps the first's.
    """

    def __init__(self, in_planes: int, planes: int, conv: ConvBuilder, stride: int = 1) -> None:
        super().__init__()
        mid = mid_planes(in_planes, planes)
        self.conv1 = nn.Sequential(conv(in_planes, planes, mid, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv(planes, planes, mid, 1), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv3d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                                            nn.BatchNorm3d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + residual)


def basic_stem() -> nn.Sequential:
    """R3D's stem: 3x7x7 conv, spatial stride 2, to 64 channels."""
    return nn.Sequential(nn.Conv3d(3, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
                         nn.BatchNorm3d(64), nn.ReLU(inplace=True))


def r2plus1d_stem() -> nn.Sequential:
    """R(2+1)D's stem: 1x7x7 to 45 channels, then 3x1x1 to 64."""
    mid = R2PLUS1D_STEM_MID
    return nn.Sequential(nn.Conv3d(3, mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
                         nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
                         nn.Conv3d(mid, 64, kernel_size=(3, 1, 1), padding=(1, 0, 0), bias=False),
                         nn.BatchNorm3d(64), nn.ReLU(inplace=True))


class VideoResNet(nn.Module):
    """Stem, four stages of BasicBlocks (stride 2 in T, H, W from stage 2 on), global average pool, `fc`."""

    def __init__(self, name: str, stem: nn.Module, conv: ConvBuilder, num_classes: int = 400,
                 dropout_rate: float = 0.0) -> None:
        super().__init__()
        self.name = name
        self.stem = stem
        in_planes = STAGE_WIDTHS[0]
        for index, (planes, blocks) in enumerate(zip(STAGE_WIDTHS, BLOCKS_PER_STAGE), start=1):
            stride = 1 if index == 1 else 2
            layer = [BasicBlock(in_planes, planes, conv, stride)]
            layer += [BasicBlock(planes, planes, conv) for _ in range(1, blocks)]
            setattr(self, f"layer{index}", nn.Sequential(*layer))
            in_planes = planes
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()  # holds no state
        self.fc = nn.Linear(in_planes, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clips(x, self.name)
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def init_weights(model: nn.Module, fc_std: float = 0.01) -> None:
    """torchvision's (and SlowFast's) initialisation of video ResNets: Kaiming fan-out convs, unit BatchNorm,
    a small-std classifier; so training from scratch starts where their recipes start."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=fc_std)
            nn.init.zeros_(module.bias)


def build_r3d_18(num_classes: int = 400, dropout_rate: float = 0.0) -> nn.Module:
    """R3D-18: full 3x3x3 convolutions throughout."""
    return VideoResNet("r3d_18", basic_stem(), conv3d_full, num_classes, dropout_rate)


def build_r2plus1d_18(num_classes: int = 400, dropout_rate: float = 0.0) -> nn.Module:
    """R(2+1)D-18: every 3x3x3 conv factorised into 1x3x3 + 3x1x1 with the same parameter budget."""
    return VideoResNet("r2plus1d_18", r2plus1d_stem(), conv2plus1d, num_classes, dropout_rate)


_SOURCE = ("Tran et al., A Closer Look at Spatiotemporal Convolutions for Action Recognition, CVPR 2018 "
           "(arXiv:1711.11248); torchvision.models.video.resnet (github.com/pytorch/vision)")
_CLASSES_NOTE = "Kinetics-400 (400 classes): torchvision's published parameters and GFLOPS include a 400-way fc"

# The torchvision recipe (references/video_classification): clip_len 16 at frame_rate 15 (every 2nd frame of a
# 30 fps video), resize to 128x171, crop 112 for training (random) and testing (centre).
ENTRIES: dict[str, dict] = {
    "r3d_18": {
        "title": "R3D-18", "builder": build_r3d_18, "frames": 16, "sampling_rate": 2, "train_crop": 112, "test_crop": 112,
        "mean": KINETICS_MEAN, "std": KINETICS_STD, "params": 33_371_472, "gflops": 40.70,
        "figures_input": (16, 112, 112), "checkpoint": "r3d_18-b3b3357e.pth", "source": _SOURCE,
        "classes_note": _CLASSES_NOTE,
    },
    "r2plus1d_18": {
        "title": "R(2+1)D-18", "builder": build_r2plus1d_18, "frames": 16, "sampling_rate": 2, "train_crop": 112, "test_crop": 112,
        "mean": KINETICS_MEAN, "std": KINETICS_STD, "params": 31_505_325, "gflops": 40.52,
        "figures_input": (16, 112, 112), "checkpoint": "r2plus1d_18-91a641e6.pth", "source": _SOURCE,
        "classes_note": _CLASSES_NOTE,
    },
}
