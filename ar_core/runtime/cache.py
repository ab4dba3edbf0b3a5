"""Where the runtime keeps derived files (exported ONNX, TensorRT engines, auto choices), and how it names them."""
from __future__ import annotations

import hashlib
import os
import platform
from functools import cache
from pathlib import Path

import torch
from torch import nn

from ..hub import cache_dir as hub_cache_dir

CHUNK_BYTES = 1 << 20


def runtime_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """`override` if given, else `runtime/` in the ar_ros cache ($AR_ROS_CACHE or ~/.cache/ar_ros)."""
    return Path(override) if override else hub_cache_dir() / "runtime"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def module_digest(network: nn.Module) -> str:
    """SHA-256 over a module's class, state-dict names, shapes and values: equal weights give equal digests."""
    digest = hashlib.sha256(type(network).__qualname__.encode())
    for name, tensor in sorted(network.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@cache
def host_cpu() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for keys of choices that depend on the hardware."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
