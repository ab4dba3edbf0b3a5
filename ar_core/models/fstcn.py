"""FstCN (Sun, Jia, Yeung, Shi, "Human Action Recognition using Factorized Spatio-Temporal Convolutional
Networks", ICCV 2015, arXiv:1510.00562).

The paper factorises a 3D convolution into 2D spatial kernels in the lower layers (spatial convolutional
layers, SCLs) followed by 1D temporal kernels in the upper layers (temporal convolutional layers, TCLs), joined
by its transformation-and-permutation (T-P) operator. Sizes follow the paper's architecture figure (the same
numbers as MRzzm/action-recognition-models-pytorch's reimplementation; the seeds' 'ar' repo swaps the SCLs for a
pretrained ResNet trunk):

- SCLs, shared by both paths, per frame: Conv(96, 7x7, stride 2), ReLU, LRN, MaxPool(3, 2);
  Conv(256, 5x5, 2), ReLU, LRN, MaxPool(3, 2); Conv(512, 3x3, 1), ReLU; Conv(512, 3x3, 1), ReLU.
- Inputs of the two paths, from one clip V of T frames: the SCL path sees one frame (the middle one, V[T//2]);
  the TCL path sees the frame differences V^diff_t = V_t - V_{t+dt}, t = 0 .. T-dt-1 (dt = 9, the 'ar' repo's
  and MRzzm's value; MRzzm's comment calls the paper's default 5 and the 'ar' repo has a stride s_t = 5, so
  check dt against the paper), so a clip needs T >= dt + 1 = 10 frames.
- SCL path: Conv(128, 3x3, 1), ReLU, MaxPool(3, 3) -> FC 4096 -> FC 2048.
- TCL path: Conv(128, 3x3, 1), ReLU, MaxPool(3, 3); T-P: the transformation, a learned 128x128 matrix P
  applied to every position's feature vector, then the permutation that makes time the convolved axis (each
  spatial position a sequence of T-dt feature vectors); TCL: two parallel 1D temporal convs, Conv(32, 3, 1)
  and Conv(32, 5, 1), ReLU, dropout, concatenated -> FC 4096 -> FC 2048.
- The two 2048-d outputs are concatenated and classified by one linear layer; dropout 0.5 after each FC.

Choices of ours, where the paper leaves room or a fixed size would pin the input: the MaxPool(3, 3) is a max
pool over a 4x4 grid of adaptive bins (exactly MaxPool(3, 3) at the paper's 204 px input, whose SCL output is
12x12), so any crop >= 32 px runs; the TCL outputs are averaged over time before the FC (any T >= 10 runs); the
paths are fused by concatenation (as both reimplementations do; the SCL path is always fed the middle frame,
where the 'ar' repo draws a random one in training). The paper gives no parameter or FLOP count:
test/test_models_fstcn.py asserts our own.
"""
from __future__ import annotations

import torch
from torch import nn

from .clip_checks import check_clips, check_head_args

DIFF_OFFSET = 9  # dt: V^diff_t = V_t - V_{t+dt}
POOLED = 4  # SCL output pooled to 4x4: MaxPool(3, 3) of the 12x12 map at 204 px
CONV5_WIDTH = 128
TCL_WIDTH = 32  # filters of each temporal conv
TCL_KERNELS = (3, 5)
FC_WIDTHS = (4096, 2048)
DROPOUT_RATE = 0.5
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def lrn() -> nn.LocalResponseNorm:
    """AlexNet's local response normalisation, the paper's "Norm" after conv1 and conv2."""
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=1.0)


def spatial_layers() -> nn.Sequential:
    """SCL1..SCL4: images (M, 3, H, W) to (M, 512, H/16, W/16) (12x12 at 204 px)."""
    return nn.Sequential(
        nn.Conv2d(3, 96, 7, stride=2, padding=3), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(96, 256, 5, stride=2, padding=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, stride=2),
        nn.Conv2d(256, 512, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(512, 512, 3, padding=1), nn.ReLU(inplace=True),
    )


class GridMaxPool(nn.Module):
    """Max over a size x size grid of bins, the bins of nn.AdaptiveMaxPool2d (MaxPool(3, 3) on a 12x12 map).

    Written as static slices, one axis at a time, because the ONNX exporter has no adaptive_max_pool2d; the
    input's height and width are Python ints when exporting (only the batch axis is dynamic).
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dim in (2, 3):
            length, bins = x.shape[dim], []
            for i in range(self.size):
                start, end = i * length // self.size, -(-(i + 1) * length // self.size)  # floor, ceil
                bins.append(x.narrow(dim, start, end - start).amax(dim=dim, keepdim=True))
            x = torch.cat(bins, dim=dim)
        return x


def conv5() -> nn.Sequential:
    """Each path's Conv(128, 3x3, 1) and the pool to POOLED x POOLED."""
    return nn.Sequential(nn.Conv2d(512, CONV5_WIDTH, 3, padding=1), nn.ReLU(inplace=True), GridMaxPool(POOLED))


def fully_connected(dim_in: int, dropout_rate: float) -> nn.Sequential:
    """FC 4096 -> FC 2048, each with ReLU and dropout."""
    layers: list[nn.Module] = []
    for width in FC_WIDTHS:
        layers += [nn.Linear(dim_in, width), nn.ReLU(inplace=True), nn.Dropout(dropout_rate)]
        dim_in = width
    return nn.Sequential(*layers)


class TemporalConvLayers(nn.Module):
    """T-P operator then the parallel 1D temporal convs: (N, T, C, P, P) to (N, P*P*2*TCL_WIDTH)."""

    def __init__(self, dropout_rate: float):
        super().__init__()
        self.transform = nn.Parameter(torch.empty(CONV5_WIDTH, CONV5_WIDTH))  # P
        nn.init.orthogonal_(self.transform)
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv1d(CONV5_WIDTH, TCL_WIDTH, k, padding=k // 2), nn.ReLU(inplace=True),
                          nn.Dropout(dropout_rate))
            for k in TCL_KERNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c, h, w = x.shape
        # Permutation: every spatial position becomes a sequence (N*H*W, T, C); transformation by P.
        x = x.permute(0, 3, 4, 1, 2).reshape(n * h * w, t, c) @ self.transform
        x = x.transpose(1, 2)  # (N*H*W, C, T): time is the convolved axis
        x = torch.cat([conv(x) for conv in self.convs], dim=1).mean(dim=2)  # (N*H*W, 2*TCL_WIDTH)
        return x.reshape(n, h * w * x.shape[1])


class FstCN(nn.Module):
    """Shared SCLs; an SCL path on the middle frame and a TCL path on frame differences; one classifier."""

    def __init__(self, num_classes: int = 400, dropout_rate: float = DROPOUT_RATE, diff_offset: int = DIFF_OFFSET):
        super().__init__()
        check_head_args(num_classes, dropout_rate)
        self.num_classes = num_classes
        self.diff_offset = diff_offset
        self.spatial = spatial_layers()
        self.scl_conv5, self.tcl_conv5 = conv5(), conv5()
        self.tcl = TemporalConvLayers(dropout_rate)
        self.scl_fc = fully_connected(CONV5_WIDTH * POOLED * POOLED, dropout_rate)
        self.tcl_fc = fully_connected(2 * TCL_WIDTH * POOLED * POOLED, dropout_rate)
        self.classifier = nn.Linear(2 * FC_WIDTHS[-1], num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.classifier.weight, std=0.01)

    @property
    def min_frames(self) -> int:
        return self.diff_offset + 1

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """clips: (N, 3, T, H, W), T >= diff_offset + 1, normalised RGB; returns logits (N, classes)."""
        check_clips(clips, "FstCN", min_frames=self.min_frames)
        n, c, t, h, w = clips.shape
        steps = t - self.diff_offset
        diff = clips[:, :, :steps] - clips[:, :, self.diff_offset:]
        # One SCL pass over the middle frame (row 0 of each clip) and the T-dt difference frames.
        frames = torch.cat([clips[:, :, t // 2].unsqueeze(2), diff], dim=2)
        features = self.spatial(frames.transpose(1, 2).reshape(n * (steps + 1), c, h, w))
        features = features.reshape(n, steps + 1, *features.shape[1:])
        spatial = self.scl_fc(self.scl_conv5(features[:, 0]).flatten(1))
        temporal = self.tcl_conv5(features[:, 1:].flatten(0, 1))
        temporal = self.tcl_fc(self.tcl(temporal.reshape(n, steps, *temporal.shape[1:])))
        return self.classifier(torch.cat([spatial, temporal], dim=1))


def build_fstcn(num_classes: int = 400, dropout_rate: float = DROPOUT_RATE) -> FstCN:
    """FstCN with the paper's layer sizes; clips of T >= 10 frames."""
    return FstCN(num_classes, dropout_rate)


ENTRIES: dict[str, dict] = {
    "fstcn": {
        "title": "FstCN", "builder": build_fstcn,
        "frames": 16,  # 16-frame clips ('ar' repo, MRzzm): 7 difference frames at dt = 9
        # Consecutive frames, as MRzzm feeds them. The 'ar' repo's in-model stride st = 5 is not taken: on its
        # 16-frame clips it leaves 4 frames, fewer than dt + 1.
        "sampling_rate": 1,
        "train_crop": 204,  # the paper's 204x204 crops
        "test_crop": 204,
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "params": None,  # the paper publishes none; ours in test/test_models_fstcn.py
        "gflops": None,
        "figures_input": (16, 204, 204),  # where our own counts are taken
        "checkpoint": None,
        "source": "Sun et al., Human Action Recognition using Factorized Spatio-Temporal Convolutional Networks, "
                  "ICCV 2015 (arXiv:1510.00562); sizes cross-checked with the seeds' 'ar' repo and "
                  "MRzzm/action-recognition-models-pytorch",
        "classes_note": "no published figure; our counts are for a 400-class head (the paper: UCF-101, HMDB-51)",
    },
}
