"""LRCN (Donahue et al., "Long-term Recurrent Convolutional Networks for Visual Recognition and
Description", CVPR 2015, arXiv:1411.4389) with a ResNet-18 frame encoder.

- Frame encoder: ResNet-18 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, Table 1:
  BasicBlock, [2, 2, 2, 2], widths 64-128-256-512), built here, global-average-pooled to 512 features per
  frame. Checked against the published ResNet-18: with a 1000-class fc it has 11,689,512 parameters and
  1.82 GFLOPs (multiply-adds) at 224 px (torchvision's resnet18 figures), which test/test_models_lrcn.py asserts.
  The paper's encoder was CaffeNet; ResNet-18 is the 'ar' repo's default (`--feature-extractor resnet18`).
- Sequence model: one LSTM layer of 256 hidden units over the per-frame features, as we read the paper's
  activity-recognition LRCN (Sec. 4: a single-layer LSTM of 256 units; the paper text was not at hand when this
  was written, so check it there); the 'ar' repo's 512 units (bidirectional, 2 layers) is ~6x the LSTM
  weights without a published gain.
- Classifier: the paper predicts at every frame and averages the predictions. A linear layer commutes with
  the average, so the classifier runs once on the time-averaged LSTM outputs: the same logits as averaging the
  per-frame logits, for one matrix product instead of T. Dropout 0.5 before it (no figure in the paper for the
  LSTM output; 0.5 as the project's other heads, the 'ar' repo uses 0.3).

Recipe ('ar' repo, the seeds' reference: `--frames-per-clip 16`, consecutive frames, resize 128x171, crop
112, ImageNet mean/std): 16 frames, sampling rate 1, 112 px. Any T >= 1 and any crop >= 32 px run (adaptive
pooling). No figure is published for this combination; the test asserts our own counts.
"""
from __future__ import annotations

import torch
from torch import nn

from .clip_checks import check_clips, check_head_args

RESNET18_DEPTHS = (2, 2, 2, 2)
RESNET18_WIDTHS = (64, 128, 256, 512)
FEATURES = 512  # ResNet-18's pooled width
HIDDEN = 256  # LSTM hidden units (the paper's activity-recognition LSTM)
DROPOUT_RATE = 0.5
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016, Fig. 2): two 3x3 convs with BN, plus the (projected) shortcut."""

    def __init__(self, dim_in: int, dim_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim_out)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim_out)
        self.relu = nn.ReLU(inplace=True)
        if dim_in != dim_out or stride != 1:  # option B: 1x1 projection shortcut
            self.downsample = nn.Sequential(nn.Conv2d(dim_in, dim_out, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(dim_out))
        else:
            self.downsample = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.downsample(x))


class ResNet18Trunk(nn.Module):
    """ResNet-18 up to the global average pool: images (M, 3, H, W) to features (M, 512)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, RESNET18_WIDTHS[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(RESNET18_WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        dim_in = RESNET18_WIDTHS[0]
        for i, (depth, width) in enumerate(zip(RESNET18_DEPTHS, RESNET18_WIDTHS)):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(dim_in if b == 0 else width, width, stride if b == 0 else 1) for b in range(depth)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            dim_in = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        for module in self.modules():
            if isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)  # each residual branch starts as identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


class LRCN(nn.Module):
    """Per-frame ResNet-18 features, an LSTM over time, a linear classifier on the time-averaged outputs."""

    def __init__(self, num_classes: int = 400, dropout_rate: float = DROPOUT_RATE, hidden: int = HIDDEN):
        super().__init__()
        check_head_args(num_classes, dropout_rate)
        self.num_classes = num_classes
        self.encoder = ResNet18Trunk()
        self.lstm = nn.LSTM(FEATURES, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout_rate)
        self.classifier = nn.Linear(hidden, num_classes)
        nn.init.normal_(self.classifier.weight, std=0.01)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips: (N, 3, T, H, W) normalised RGB; returns logits (N, classes)."""
        check_clips(clips, "LRCN")
        n, c, t, h, w = clips.shape
        frames = clips.transpose(1, 2).reshape(n * t, c, h, w)
        features = self.encoder(frames).reshape(n, t, FEATURES)
        outputs, _ = self.lstm(features)
        return self.classifier(self.dropout(outputs.mean(dim=1)))


def build_lrcn(num_classes: int = 400, dropout_rate: float = DROPOUT_RATE) -> LRCN:
    """LRCN with a ResNet-18 frame encoder and a 256-unit LSTM."""
    return LRCN(num_classes, dropout_rate)


ENTRIES: dict[str, dict] = {
    "lrcn": {
        "title": "LRCN", "builder": build_lrcn,
        "frames": 16,  # the paper's and the 'ar' repo's 16-frame clips
        "sampling_rate": 1,  # consecutive frames (the 'ar' repo: torchvision VideoClips, no frame step)
        "train_crop": 112,  # 'ar' repo: resize 128x171, random crop 112
        "test_crop": 112,  # 'ar' repo: centre crop 112
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "params": None,  # unpublished for this combination; the ResNet-18 trunk is checked against 11,689,512
        "gflops": None,  # unpublished; ours in test/test_models_lrcn.py
        "figures_input": (16, 112, 112),  # where our own counts are taken
        "checkpoint": None,  # no published checkpoint for this combination
        "source": "Donahue et al., Long-term Recurrent Convolutional Networks for Visual Recognition and "
                  "Description, CVPR 2015 (arXiv:1411.4389); encoder: He et al., ResNet-18, CVPR 2016; "
                  "recipe after the seeds' 'ar' repo",
        "classes_note": "no published figure; our counts are for a 400-class head (the ResNet-18 check: 1000)",
    },
}
