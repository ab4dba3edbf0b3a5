"""Training checkpoints: everything needed to continue a run exactly, in files `torch.load(weights_only=True)` reads.

Python's and NumPy's RNG states are stored as tensors and plain numbers so that no pickled object is needed.
"""
from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..models import CheckpointError

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_NAME = re.compile(r"^iter_(\d+)\.pt$")


def checkpoint_path(run_dir: str | os.PathLike, iteration: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"iter_{iteration:08d}.pt"


def list_checkpoints(run_dir: str | os.PathLike) -> dict[int, Path]:
    """The run's checkpoints by iteration, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = CHECKPOINT_NAME.match(path.name)
            if match:
                found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    checkpoints = list_checkpoints(run_dir)
    return checkpoints[max(checkpoints)] if checkpoints else None


def find_checkpoint(run_dir: str | os.PathLike, iteration: int) -> Path:
    """The checkpoint written after `iteration`, or a CheckpointError listing those that exist."""
    checkpoints = list_checkpoints(run_dir)
    if iteration not in checkpoints:
        have = ", ".join(map(str, checkpoints)) or "none"
        raise CheckpointError(f"no checkpoint for iteration {iteration} in {Path(run_dir) / CHECKPOINT_DIR} "
                              f"(iterations saved: {have})")
    return checkpoints[iteration]


def prune_checkpoints(run_dir: str | os.PathLike, keep: int, written: str | os.PathLike) -> list[Path]:
    """Delete all but the newest `keep` checkpoints of the run (0: keep all), never `written`, the one just
    saved; returns the deleted files. Bounds the disk a long run uses, as keeping the last N does elsewhere."""
    if keep < 1:
        return []
    written = Path(written)
    checkpoints = list(list_checkpoints(run_dir).values())
    newest = set(checkpoints[-keep:]) | {written}
    deleted = [path for path in checkpoints if path not in newest]
    for path in deleted:
        path.unlink(missing_ok=True)
        log.debug("deleted old checkpoint %s", path)
    return deleted


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` atomically: a crash mid-write leaves the previous files intact."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    log.debug("saved checkpoint %s", path)
    return path


def load_checkpoint_state(path: str | os.PathLike) -> dict[str, Any]:
    """The dict `save_checkpoint` wrote; RNG states are NOT restored here (see `restore_rng_state`)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is reported the same way
        raise CheckpointError(f"{path} is not a readable training checkpoint ({type(err).__name__}: {err})") from None
    missing = [key for key in ("model", "optimizer", "scheduler", "iteration", "rng") if key not in state]
    if missing:
        raise CheckpointError(f"{path} is not an ar_core training checkpoint: missing {', '.join(missing)}")
    return state


def capture_rng_state() -> dict[str, Any]:
    version, mt_state, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": {"version": version, "state": torch.tensor(mt_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {"key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
                         "has_gauss": numpy["has_gauss"], "gauss": numpy["gauss"]})
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
