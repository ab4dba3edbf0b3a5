"""Open a model for streaming inference from the names users give: size, weights, backend, device, labels.

Shared by the ROS node, `ar-core bag-eval`, `ar-core infer` and the demo.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .labels import read_labels
from .models import get_spec
from .stream.pipeline import ClipSpec


class WeightsNotFound(FileNotFoundError):
    """No weights where the user pointed, or no cached official checkpoint; the message says what to run."""


@dataclass
class ModelSession:
    engine: object  # ar_core.runtime.InferenceEngine
    labels: list[str]
    clip_spec: ClipSpec
    weights: Path

    def close(self) -> None:
        self.engine.close()


def resolve_weights(model: str, weights: str | os.PathLike = "") -> Path:
    """`weights` if given (it must exist), else the official checkpoint for `model` from the download cache."""
    spec = get_spec(model)
    if weights:
        path = Path(weights).expanduser()
        if not path.exists():
            raise WeightsNotFound(f"weights not found: {path}")
        return path
    from .hub import cached_checkpoint

    cached = cached_checkpoint(spec.name)
    if cached is None:
        raise WeightsNotFound(
            f"no weights given and the official X3D-{spec.name.upper()} checkpoint is not in the download cache; "
            f"run `ar-core download --models {spec.name}` or set the weights parameter")
    return cached


def open_session(model: str, weights: str | os.PathLike = "", backend: str = "torch", device: str = "cpu",
                 num_threads: int | None = None, labels: str | os.PathLike = "") -> ModelSession:
    from .runtime import create_engine

    path = resolve_weights(model, weights)
    engine = create_engine(path, backend=backend, device=device, num_threads=num_threads or None, model=model)
    names = read_labels(labels) if labels else list(engine.metadata.classes)
    if len(names) != len(engine.metadata.classes):
        engine.close()
        raise ValueError(f"labels file {labels} has {len(names)} names but the model has "
                         f"{len(engine.metadata.classes)} classes")
    return ModelSession(engine, names, ClipSpec.of(engine.metadata), path)
