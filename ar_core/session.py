"""Open a model for streaming inference from the names users give: model, weights, backend, device, labels.

Shared by the ROS node, `ar-core bag-eval`, `ar-core infer` and the demo. The weights go through the model
loader (ar_core.runtime.sources), so anything it opens works here: a file, a save() folder, official .pyth.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .hub import cached_checkpoint
from .labels import read_labels
from .models import get_spec
from .runtime import InferenceEngine, WeightsNotFound, create_engine

__all__ = ["ModelSession", "WeightsNotFound", "open_session", "resolve_weights"]


@dataclass
class ModelSession:
    engine: InferenceEngine
    labels: list[str]
    weights: Path  # the model file opened (for a folder: the version the loader chose)

    @property
    def metadata(self):
        """The model's ModelMetadata: frames, interval_s, crop, mean, std, classes."""
        return self.engine.metadata

    def close(self) -> None:
        self.engine.close()


def resolve_weights(model: str, weights: str | os.PathLike = "") -> Path:
    """`weights` if given, else the official checkpoint for `model` from the download cache."""
    spec = get_spec(model)
    if weights:
        return Path(weights).expanduser()
    cached = cached_checkpoint(spec.name)
    if cached is None:
        raise WeightsNotFound(
            f"no weights given and the official {spec.title} checkpoint is not in the download cache; "
            f"run `ar-core download --model {spec.name}` or set the weights parameter")
    return cached


def open_session(model: str, weights: str | os.PathLike = "", backend: str = "torch", device: str = "auto",
                 num_threads: int | None = None, labels: str | os.PathLike = "", inference: str = "clip",
                 pool_frames: int = 0) -> ModelSession:
    """An engine for `model` from `weights` (default: the cached official checkpoint) with its class names
    (from `labels`, one a line, else the model's own), for clip or stream inference (`pool_frames` 0: the
    model's default). Missing weights raise WeightsNotFound."""
    engine = create_engine(resolve_weights(model, weights), backend, device, num_threads, model=model,
                           inference=inference, pool_frames=pool_frames or None)
    names = read_labels(labels) if labels else list(engine.metadata.classes)
    if len(names) != len(engine.metadata.classes):
        engine.close()
        raise ValueError(f"labels file {labels} has {len(names)} names but the model has "
                         f"{len(engine.metadata.classes)} classes")
    return ModelSession(engine, names, engine.weights)
