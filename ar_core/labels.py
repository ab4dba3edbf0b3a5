"""Class-name lists: the bundled Kinetics-400 names and one-name-per-line label files."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"


def read_labels(path: str | os.PathLike) -> list[str]:
    """One class name per line; blank lines are ignored. Raises ValueError for a missing or empty file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"labels file not found: {path}")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise ValueError(f"labels file {path} holds no class names")
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"labels file {path} repeats class names: {', '.join(duplicates[:5])}")
    return names


@cache
def kinetics400_labels() -> tuple[str, ...]:
    """The Kinetics-400 class names in the order of the official checkpoints' outputs."""
    return tuple(read_labels(ASSETS / "label_map_k400.txt"))
