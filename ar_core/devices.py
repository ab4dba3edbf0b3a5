"""Which device to run on: `auto` (the default everywhere) is CUDA when present, else the CPU."""
from __future__ import annotations

DEVICE_HELP = "auto (CUDA when present, else CPU), cpu, cuda or cuda:N"


class DeviceUnavailable(ValueError):
    """A device that this machine does not have; the message is one line saying what to use instead."""


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' or 'cpu'; 'cpu', 'cuda', 'cuda:N' are checked: asking for CUDA where there is none is
    an error, never a silent fallback."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise DeviceUnavailable(f"device {device!r} is not one of: {DEVICE_HELP}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device {device!r} requested but CUDA is not available here; use auto or cpu")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise DeviceUnavailable(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA "
                                    f"device(s)")
    return device
