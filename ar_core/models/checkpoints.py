"""Load weights from published checkpoints (SlowFast `.pyth`, torchvision `.pth`), plain state dicts and
ar_core checkpoints into the networks of ar_core.models.build_model.

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
    own new classifier (the final layer, registry.classifier_keys), which is reported. Everything else must
    match exactly.
    """
    return load_state_dict(model, read_state_dict(path), source=str(path))


def load_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> list[str]:
    """`state` into `model` (built by ar_core.models.build_model), strictly but for a new classifier."""
    from .registry import classifier_keys

    own = model.state_dict()
    state = dict(state)
    head = classifier_keys(model)
    if _only_class_count_differs(own, state, head):
        log.info("%s: keeping the model's new %d-class head instead of the checkpoint's %d-class one", source,
                 model.num_classes, _class_count(own[head[0]], state[head[0]]))
        state.update({key: own[key] for key in head})
    check_state_dict(model, state, source)
    model.load_state_dict(state, strict=True)
    return list(state)


def _only_class_count_differs(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor],
                              head: tuple[str, ...]) -> bool:
    """The classifier tensors are there, each differing from the model's along one axis only (the classes)."""
    return all(k in state and state[k].ndim == own[k].ndim
               and sum(a != b for a, b in zip(state[k].shape, own[k].shape)) == 1 for k in head)


def _class_count(own: torch.Tensor, theirs: torch.Tensor) -> int:
    return next(b for a, b in zip(own.shape, theirs.shape) if a != b)


def _preview(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}]"


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
    """Raise a CheckpointError naming the first differing keys, then shapes, when `state` is not exactly
    `model`'s layout; a checkpoint of another registry architecture is named as such."""
    from .registry import identify

    own = model.state_dict()
    spec = getattr(model, "spec", None)
    title = spec.title if spec else type(model).__name__
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        holds = [name for name in identify(state) if spec is None or name != spec.name]
        what = f" it holds a {' or '.join(holds)} checkpoint, not {title}:" if holds else ""
        raise CheckpointError(
            f"{source} does not match {title}:{what} {len(missing)} missing key(s) {_preview(missing)}, "
            f"{len(unexpected)} unexpected key(s) {_preview(unexpected)}")
    wrong = [f"{k}: checkpoint {tuple(state[k].shape)}, {title} {tuple(own[k].shape)}" for k in own
             if tuple(state[k].shape) != tuple(own[k].shape)]
    if wrong:
        raise CheckpointError(f"{source} does not match {title}: {len(wrong)} shape mismatch(es) {_preview(wrong)}")
