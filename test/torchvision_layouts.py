"""torchvision's video-model state-dict layouts, written by hand from torchvision's source and independently of
ar_core's modules, so a strict load of them is a real check and not our own layout fed back to us.

Read from github.com/pytorch/vision: torchvision/models/video/resnet.py (VideoResNet, BasicBlock, Conv3DSimple,
Conv2Plus1D, BasicStem, R2Plus1dStem) and torchvision/models/video/s3d.py (S3D, SepInceptionBlock3D,
TemporalSeparableConv, torchvision.ops.misc.Conv3dNormActivation = Sequential(0 conv, 1 norm, 2 activation)).
state_dict() order: a module's own parameters, then its buffers (BatchNorm: weight, bias, running_mean, running_var,
num_batches_tracked), then its children in registration order.

`python test/torchvision_layouts.py` writes test/data/torchvision_manifests/<name>.json from these.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

MANIFESTS = Path(__file__).parent / "data" / "torchvision_manifests"
Manifest = list[list]  # [[key, shape], ...] in state_dict() order


def _bn(prefix: str, channels: int) -> Manifest:
    return [[f"{prefix}.{n}", [channels]] for n in ("weight", "bias", "running_mean", "running_var")] + \
           [[f"{prefix}.num_batches_tracked", []]]


def _conv(prefix: str, out: int, inp: int, kernel: tuple[int, int, int], bias: bool = False) -> Manifest:
    return [[f"{prefix}.weight", [out, inp, *kernel]]] + ([[f"{prefix}.bias", [out]]] if bias else [])


# -- VideoResNet ---------------------------------------------------------------------------------------------------

def _resnet_conv(name: str, prefix: str, inp: int, out: int, mid: int) -> Manifest:
    """Conv3DSimple is one Conv3d (key `<prefix>`); Conv2Plus1D a Sequential: 0 conv, 1 BN, 2 ReLU, 3 conv."""
    if name == "r3d_18":
        return _conv(prefix, out, inp, (3, 3, 3))
    return (_conv(f"{prefix}.0", mid, inp, (1, 3, 3)) + _bn(f"{prefix}.1", mid)
            + _conv(f"{prefix}.3", out, mid, (3, 1, 1)))


def torchvision_resnet_manifest(name: str, num_classes: int = 400) -> Manifest:
    """r3d_18 / r2plus1d_18: stem, layer1-4 of two BasicBlocks (conv1, conv2, then downsample), fc."""
    if name == "r3d_18":
        keys = _conv("stem.0", 64, 3, (3, 7, 7)) + _bn("stem.1", 64)
    elif name == "r2plus1d_18":
        keys = _conv("stem.0", 45, 3, (1, 7, 7)) + _bn("stem.1", 45) + _conv("stem.3", 64, 45, (3, 1, 1)) + \
            _bn("stem.4", 64)
    else:
        raise KeyError(name)
    inplanes = 64
    for layer, planes in enumerate((64, 128, 256, 512), start=1):
        stride = 1 if layer == 1 else 2
        for block in range(2):
            prefix = f"layer{layer}.{block}"
            mid = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)  # BasicBlock's midplanes
            keys += _resnet_conv(name, f"{prefix}.conv1.0", inplanes, planes, mid) + _bn(f"{prefix}.conv1.1", planes)
            keys += _resnet_conv(name, f"{prefix}.conv2.0", planes, planes, mid) + _bn(f"{prefix}.conv2.1", planes)
            if block == 0 and (stride != 1 or inplanes != planes):
                keys += _conv(f"{prefix}.downsample.0", planes, inplanes, (1, 1, 1)) + \
                    _bn(f"{prefix}.downsample.1", planes)
            inplanes = planes
    return keys + [["fc.weight", [num_classes, 512]], ["fc.bias", [num_classes]]]


# -- S3D -----------------------------------------------------------------------------------------------------------

def _cna(prefix: str, inp: int, out: int, kernel: tuple[int, int, int] = (1, 1, 1)) -> Manifest:
    """Conv3dNormActivation(bias=False, norm_layer=BatchNorm3d): 0 conv, 1 BN (2 ReLU holds nothing)."""
    return _conv(f"{prefix}.0", out, inp, kernel) + _bn(f"{prefix}.1", out)


def _tsc(prefix: str, inp: int, out: int, k: int) -> Manifest:
    """TemporalSeparableConv: 0 = 1 x k x k conv-BN-ReLU, 1 = k x 1 x 1 conv-BN-ReLU."""
    return _cna(f"{prefix}.0", inp, out, (1, k, k)) + _cna(f"{prefix}.1", out, out, (k, 1, 1))


def _inception(prefix: str, inp: int, b0: int, b1m: int, b1o: int, b2m: int, b2o: int, b3: int) -> Manifest:
    return (_cna(f"{prefix}.branch0", inp, b0)
            + _cna(f"{prefix}.branch1.0", inp, b1m) + _tsc(f"{prefix}.branch1.1", b1m, b1o, 3)
            + _cna(f"{prefix}.branch2.0", inp, b2m) + _tsc(f"{prefix}.branch2.1", b2m, b2o, 3)
            + _cna(f"{prefix}.branch3.1", inp, b3))  # branch3.0 is the max pool


# S3D.features: index -> SepInceptionBlock3D arguments, as listed in torchvision's S3D.__init__
_S3D_INCEPTIONS = {
    5: (192, 64, 96, 128, 16, 32, 32), 6: (256, 128, 128, 192, 32, 96, 64),
    8: (480, 192, 96, 208, 16, 48, 64), 9: (512, 160, 112, 224, 24, 64, 64), 10: (512, 128, 128, 256, 24, 64, 64),
    11: (512, 112, 144, 288, 32, 64, 64), 12: (528, 256, 160, 320, 32, 128, 128),
    14: (832, 256, 160, 320, 32, 128, 128), 15: (832, 384, 192, 384, 48, 128, 128),
}


def torchvision_s3d_manifest(num_classes: int = 400) -> Manifest:
    """features.0 TSC(3, 64, 7), 2 Conv3dNormActivation(64, 64, 1), 3 TSC(64, 192, 3), Inception blocks (1, 4, 7
    and 13 are pools), classifier.1 Conv3d(1024, num_classes, 1) with bias (classifier.0 is the dropout)."""
    keys = _tsc("features.0", 3, 64, 7) + _cna("features.2", 64, 64) + _tsc("features.3", 64, 192, 3)
    for index, args in _S3D_INCEPTIONS.items():
        keys += _inception(f"features.{index}", *args)
    return keys + _conv("classifier.1", num_classes, 1024, (1, 1, 1), bias=True)


MANIFEST_BUILDERS = {
    "r3d_18": lambda: torchvision_resnet_manifest("r3d_18"),
    "r2plus1d_18": lambda: torchvision_resnet_manifest("r2plus1d_18"),
    "s3d": torchvision_s3d_manifest,
}


def load_manifest(name: str) -> Manifest:
    return json.loads((MANIFESTS / f"{name}.json").read_text())


def learned_parameters(manifest: Manifest) -> int:
    """What torchvision's num_params counts: every parameter, BatchNorm's included, no buffers."""
    return sum(torch.Size(shape).numel() for key, shape in manifest
               if not key.endswith(("running_mean", "running_var", "num_batches_tracked")))


def manifest_state_dict(manifest: Manifest, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors of the manifest's shapes: a stand-in for torchvision's published checkpoint."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in manifest:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


def write_manifests() -> None:
    MANIFESTS.mkdir(parents=True, exist_ok=True)
    for name, build in MANIFEST_BUILDERS.items():
        (MANIFESTS / f"{name}.json").write_text(json.dumps(build()) + "\n")


if __name__ == "__main__":
    write_manifests()
