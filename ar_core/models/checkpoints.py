"""Load X3D weights from official SlowFast `.pyth` files, plain state dicts and ar_core checkpoints.

Nothing here unpickles arbitrary objects: every file goes through `torch.load(weights_only=True)`.
"""
from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

# Where the state dict sits inside the containers we know: SlowFast (`model_state`), ar_core training
# checkpoints (`model`), and the common `state_dict` convention.
STATE_DICT_KEYS = ("model_state", "model", "state_dict")
HEAD_KEYS = ("head.projection.weight", "head.projection.bias")


class CheckpointError(ValueError):
    """A weights file that cannot be used, with the reason in the message."""


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors stored in `path`, unwrapped from any known container and `module.` prefix."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only names the global it refused; any other unpickling failure means the bytes are no checkpoint.
        refused = next((line.strip() for line in str(err).splitlines() if "Unsupported global" in line), None)
        if refused:
            raise CheckpointError(f"{path} holds Python objects that could only be loaded by executing pickled "
                                  f"code, which ar_core refuses to do ({refused})") from None
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (unreadable pickle data)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({type(err).__name__}: {err})") from None
    return unwrap_state_dict(obj, source=str(path))


def unwrap_state_dict(obj: object, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in STATE_DICT_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise CheckpointError(
            f"{source} is not a model checkpoint: expected a state dict of tensors, or a dict holding one "
            f"under {' / '.join(STATE_DICT_KEYS)}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_checkpoint(model: nn.Module, path: str | os.PathLike) -> list[str]:
    """Load `path` into `model` with strict key and shape matching; returns the keys loaded.

    The one allowed difference: a model built with `num_classes` other than the checkpoint's keeps its
    own new head (`head.projection`), which is reported. Everything else must match exactly.
    """
    return load_state_dict(model, read_state_dict(path), source=str(path))


def load_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> list[str]:
    own = model.state_dict()
    state = dict(state)
    keep_own_head = _only_class_count_differs(own, state)
    if keep_own_head:
        log.info("%s: keeping the model's new %d-class head instead of the checkpoint's %d-class one", source,
                 own[HEAD_KEYS[1]].shape[0], state[HEAD_KEYS[1]].shape[0])
        for key in HEAD_KEYS:
            del state[key]
    missing = [k for k in own if k not in state and not (keep_own_head and k in HEAD_KEYS)]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not match the model: {len(missing)} missing key(s) {_preview(missing)}, "
            f"{len(unexpected)} unexpected key(s) {_preview(unexpected)}")
    for key, tensor in state.items():
        if tensor.shape != own[key].shape:
            raise CheckpointError(f"{source}: shape mismatch at {key}: checkpoint has {tuple(tensor.shape)}, "
                                  f"model expects {tuple(own[key].shape)}")
    model.load_state_dict(state, strict=False)
    return list(state)


def _only_class_count_differs(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> bool:
    if not all(k in state and k in own for k in HEAD_KEYS):
        return False
    ours, theirs = own[HEAD_KEYS[0]].shape, state[HEAD_KEYS[0]].shape
    return len(ours) == len(theirs) == 2 and ours[1] == theirs[1] and ours[0] != theirs[0]


def _preview(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}]"


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
    """Raise a CheckpointError (a ValueError) naming the first differing keys, then shapes, when `state` is not
    exactly `model`'s layout: a checkpoint of another architecture (e.g. one torchvision video model's weights
    for another) is named as such before a strict load, instead of failing deep inside torch."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not match the {type(model).__name__} architecture: {len(missing)} missing key(s) "
            f"{_preview(missing)}, {len(unexpected)} unexpected key(s) {_preview(unexpected)}")
    wrong = [f"{k}: {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in own
             if tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        raise CheckpointError(f"{source} does not match the {type(model).__name__} architecture: "
                              f"{len(wrong)} shape mismatch(es) {_preview(wrong)}")
