"""S3D (Xie et al., "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy Trade-offs in Video Classification",
ECCV 2018, arXiv:1712.04851), laid out exactly as torchvision's `torchvision/models/video/s3d.py`.

Module names, registration order and shapes are torchvision's, so its published Kinetics-400 checkpoint
(`s3d-d76dad2f.pth`) loads strictly and gives its outputs:

    features.0          separable stem: conv 1x7x7 /(1,2,2) -> BN -> ReLU, conv 7x1x1 /(2,1,1) -> BN -> ReLU (64)
    features.1 / 4      max pool 1x3x3 /(1,2,2)
    features.2          1x1x1 conv-BN-ReLU (64);  features.3: separable 3x3 (1x3x3 then 3x1x1) to 192
    features.5-6, 8-12, 14-15   separable Inception blocks (Inception-v1 widths, the paper's fig. 2 and 4):
                        branch0 1x1x1; branch1 / branch2 1x1x1 then separable 3x3x3; branch3 max pool 3x3x3 then 1x1x1
    features.7          max pool 3x3x3 /2;  features.13: max pool 2x2x2 /2
    classifier.0        Dropout(dropout_rate);  classifier.1: Conv3d(1024, num_classes, 1x1x1) with bias

Every conv-BN-ReLU is torchvision's Conv3dNormActivation: Sequential(0: conv without bias, 1: BN, 2: ReLU), with
BatchNorm3d(eps=0.001, momentum=0.001). The network's input stride is 8 in time and 32 in space.

Head, as torchvision: average pool 2x7x7 with stride 1 over the features, the 1x1x1 classifier conv, then the mean
over the remaining (T, H, W). Where the features are smaller than 2x7x7 (crops under 224 px or clips under 9
frames), torchvision's pool would fail; here its window shrinks to the feature size, so tiny inputs run and every
input torchvision accepts gives torchvision's result. A window fixed by the input shape keeps the export static.

Figures checked (torchvision model docs, Kinetics-400, 400 classes): 8,320,048 parameters (BatchNorm included),
17.98 GFLOPS (multiply-adds) at 3x16x224x224 (our count at that input, see test/test_models_s3d.py).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .clip_checks import check_clips
from .resnet3d import KINETICS_MEAN, KINETICS_STD

BN_EPS = 0.001
BN_MOMENTUM = 0.001
POOL_WINDOW = (2, 7, 7)  # torchvision's avgpool, stride 1
MIN_FRAMES = 5  # below it the temporal max pools leave no frame
# After the stem, in order: (in, branch0, branch1 mid, branch1 out, branch2 mid, branch2 out, branch3 out) of an
# Inception block, or ("pool", kernel, stride, padding) of a max pool.
FEATURE_PLAN: tuple[tuple, ...] = (
    (192, 64, 96, 128, 16, 32, 32),
    (256, 128, 128, 192, 32, 96, 64),
    ("pool", (3, 3, 3), (2, 2, 2), (1, 1, 1)),
    (480, 192, 96, 208, 16, 48, 64),
    (512, 160, 112, 224, 24, 64, 64),
    (512, 128, 128, 256, 24, 64, 64),
    (512, 112, 144, 288, 32, 64, 64),
    (528, 256, 160, 320, 32, 128, 128),
    ("pool", (2, 2, 2), (2, 2, 2), (0, 0, 0)),
    (832, 256, 160, 320, 32, 128, 128),
    (832, 384, 192, 384, 48, 128, 128),
)


def conv_bn_relu(in_planes: int, out_planes: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), padding: tuple[int, int, int] = (0, 0, 0)) -> nn.Sequential:
    """torchvision's Conv3dNormActivation as S3D uses it: bias-free conv, BN (eps, momentum 1e-3), ReLU."""
    return nn.Sequential(nn.Conv3d(in_planes, out_planes, kernel, stride=stride, padding=padding, bias=False),
                         nn.BatchNorm3d(out_planes, eps=BN_EPS, momentum=BN_MOMENTUM),
                         nn.ReLU(inplace=True))


def separable_conv(in_planes: int, out_planes: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    """The paper's separable k x k x k conv (torchvision's TemporalSeparableConv): 1 x k x k, then k x 1 x 1."""
    return nn.Sequential(
        conv_bn_relu(in_planes, out_planes, (1, kernel, kernel), (1, stride, stride), (0, padding, padding)),
        conv_bn_relu(out_planes, out_planes, (kernel, 1, 1), (stride, 1, 1), (padding, 0, 0)))


class SepInceptionBlock(nn.Module):
    """Inception block whose 3x3x3 convs are separable; the four branches are concatenated on channels."""

    def __init__(self, in_planes: int, b0_out: int, b1_mid: int, b1_out: int, b2_mid: int, b2_out: int,
                 b3_out: int) -> None:
        super().__init__()
        self.branch0 = conv_bn_relu(in_planes, b0_out)
        self.branch1 = nn.Sequential(conv_bn_relu(in_planes, b1_mid), separable_conv(b1_mid, b1_out, 3, 1, 1))
        self.branch2 = nn.Sequential(conv_bn_relu(in_planes, b2_mid), separable_conv(b2_mid, b2_out, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), conv_bn_relu(in_planes, b3_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class S3D(nn.Module):
    """`features` (stride 8 in T, 32 in H and W, 1024 channels), the 2x7x7 average, the 1x1x1 conv classifier."""

    def __init__(self, num_classes: int = 400, dropout_rate: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            separable_conv(3, 64, 7, 2, 3),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            conv_bn_relu(64, 64),
            separable_conv(64, 192, 3, 1, 1),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        ]
        for step in FEATURE_PLAN:
            if step[0] == "pool":
                layers.append(nn.MaxPool3d(step[1], stride=step[2], padding=step[3]))
            else:
                layers.append(SepInceptionBlock(*step))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout_rate),
                                        nn.Conv3d(1024, num_classes, kernel_size=1, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clips(x, "s3d", min_frames=MIN_FRAMES)
        x = self.features(x)
        window = tuple(min(w, s) for w, s in zip(POOL_WINDOW, x.shape[2:]))
        x = self.classifier(F.avg_pool3d(x, window, stride=1))
        return x.mean(dim=(2, 3, 4))


def build_s3d(num_classes: int = 400, dropout_rate: float = 0.2) -> nn.Module:
    """S3D with torchvision's default dropout (0.2) before the classifier."""
    return S3D(num_classes, dropout_rate)


# torchvision's recipe (pytorch/vision PR #6537, references/video_classification): clip_len 64 at frame_rate 15
# (every 2nd frame of a 30 fps video), resize 256x256, crop 224 (random for training, centre for testing); its
# accuracy is measured on 128-frame clips. The GFLOPS figure refers to 16 frames (see figures_input).
ENTRIES: dict[str, dict] = {
    "s3d": {
        "title": "S3D", "builder": build_s3d, "frames": 64, "sampling_rate": 2, "train_crop": 224, "test_crop": 224,
        "mean": KINETICS_MEAN, "std": KINETICS_STD, "params": 8_320_048, "gflops": 17.98,
        "figures_input": (16, 224, 224), "checkpoint": "s3d-d76dad2f.pth",
        "source": ("Xie et al., Rethinking Spatiotemporal Feature Learning: Speed-Accuracy Trade-offs in Video "
                   "Classification, ECCV 2018 (arXiv:1712.04851); torchvision.models.video.s3d "
                   "(github.com/pytorch/vision)"),
        "classes_note": "Kinetics-400 (400 classes): torchvision's published parameters and GFLOPS include a "
                        "400-way classifier",
    },
}
