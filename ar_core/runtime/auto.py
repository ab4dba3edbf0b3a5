"""backend="auto": time each available backend on this model for a few runs and keep the fastest.

The winner is remembered in `auto-choices.json` in the runtime cache, keyed by the model's hash, this host's
CPU, the device, thread count, precision and the backends' versions, so later starts skip the trial.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from torch import nn

from ..atomic import atomic_path
from ..devices import resolve_device
from ..models.metadata import ModelMetadata
from .backends import BACKENDS, get_backend, open_backend, open_source
from .base import BackendUnavailable, InferenceEngine, ModelFormatError
from .cache import file_digest, host_cpu, runtime_cache_dir
from .sources import model_files
from .timing import median_latency_ms, median_step_ms

log = logging.getLogger(__name__)

CPU_CANDIDATES = ("openvino", "torch-compile", "onnxruntime", "torch")
CUDA_CANDIDATES = ("tensorrt", "onnxruntime", "torch-compile", "torch")
CHOICES_FILE = "auto-choices.json"


def create_auto_engine(weights_or_network: str | os.PathLike | nn.Module, *, device: str = "auto",
                       num_threads: int | None = None, metadata: ModelMetadata | None = None, model: str | None = None,
                       crop: int | None = None, precision: str = "fp32", cache_dir=None,
                       candidates: Sequence[str] | None = None, trial_runs: int = 5, inference: str | None = None,
                       pool_frames: int | None = None) -> InferenceEngine:
    device = resolve_device(device)
    candidates = candidates or (CUDA_CANDIDATES if device.startswith("cuda") else CPU_CANDIDATES)
    names = _usable(candidates, weights_or_network, model)
    if not names:
        raise BackendUnavailable(f"auto: none of the backends {', '.join(candidates)} is installed "
                                 f"and able to run {weights_or_network}")
    settings = dict(device=device, num_threads=num_threads, metadata=metadata, model=model, crop=crop,
                    precision=precision, cache_dir=cache_dir, inference=inference, pool_frames=pool_frames)
    choices_path = runtime_cache_dir(cache_dir) / CHOICES_FILE
    digest = _source_digest(weights_or_network, metadata, model, crop, inference, pool_frames)
    key = choice_key(digest, device, num_threads, precision, names)
    remembered = _read_choices(choices_path).get(key, {}).get("backend")
    if remembered in names:
        try:
            engine = open_backend(weights_or_network, remembered, **settings)
            log.info("auto: %s, as measured before on this host", remembered)
            return engine
        except (BackendUnavailable, ModelFormatError) as err:
            log.warning("auto: the remembered backend %s no longer opens (%s); measuring again", remembered, err)
    winner, latencies = _trial(weights_or_network, names, settings, trial_runs)
    _remember(choices_path, key, winner.backend, latencies)
    return winner


def choice_key(source_digest: str, device: str, num_threads: int | None, precision: str,
               backends: Sequence[str]) -> str:
    """Everything the measured winner depends on, hashed."""
    versions = {name: _version(BACKENDS[name].package) for name in backends}
    facts = dict(model=source_digest, cpu=host_cpu(), cores=os.cpu_count(), device=device, threads=num_threads,
                 precision=precision, versions=versions)
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _usable(names: Sequence[str], weights_or_network, model: str | None) -> list[str]:
    held = {"torch"} if isinstance(weights_or_network, nn.Module) else set(model_files(weights_or_network, model))
    usable = []
    for name in names:
        backend = get_backend(name)
        if importlib.util.find_spec(backend.package) is None:
            log.info("auto: skipping %s (%s is not installed)", name, backend.package)
        elif not held & set(backend.inputs):
            log.info("auto: skipping %s (it cannot run %s models)", name, " or ".join(sorted(held)))
        else:
            usable.append(name)
    return usable


def _trial(weights_or_network, names: list[str], settings: dict,
           runs: int) -> tuple[InferenceEngine, dict[str, float]]:
    latencies: dict[str, float] = {}
    best: InferenceEngine | None = None
    for name in names:
        engine = None
        try:
            engine = open_backend(weights_or_network, name, **settings)
            if engine.metadata.inference == "stream":
                latencies[name] = median_step_ms(engine, warmup=2, runs=runs)
            else:
                clips = np.zeros((1, *engine.metadata.input_shape), np.float32)
                latencies[name] = median_latency_ms(engine, clips, warmup=2, runs=runs)
        except Exception as err:  # a candidate that fails here (e.g. no compiler for torch.compile) is skipped
            log.warning("auto: %s cannot run this model here: %s", name, _first_line(err))
            if engine is not None:
                engine.close()
            continue
        if best is None or latencies[name] < latencies[best.backend]:
            if best is not None:
                best.close()
            best = engine
        else:
            engine.close()
    if best is None:
        raise BackendUnavailable(f"auto: no backend could run the model (tried {', '.join(names)})")
    log.info("auto: chose %s; batch-1 latency %s", best.backend,
             ", ".join(f"{name} {ms:.1f} ms" for name, ms in sorted(latencies.items(), key=lambda item: item[1])))
    return best, latencies


def _source_digest(weights_or_network, metadata: ModelMetadata | None, model: str | None, crop: int | None,
                   inference: str | None, pool_frames: int | None) -> str:
    if isinstance(weights_or_network, nn.Module):
        return open_source(weights_or_network, ("torch",), metadata, model, crop, inference, pool_frames).digest
    files = model_files(weights_or_network, model)
    parts = [f"{kind}:{file_digest(path)}" for kind, path in sorted(files.items())]
    parts.append(metadata.to_json() if metadata else "")
    parts.append(f"{model}:{crop}:{inference}:{pool_frames}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _first_line(err: Exception) -> str:
    return next((line for line in str(err).splitlines() if line.strip()), type(err).__name__)


def _version(package: str) -> str:
    module = importlib.import_module(package)
    return str(getattr(module, "__version__", "unknown"))


def _read_choices(path: Path) -> dict:
    try:
        choices = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as err:
        log.warning("auto: ignoring unreadable %s (%s)", path, err)
        return {}
    return choices if isinstance(choices, dict) else {}


def _remember(path: Path, key: str, backend: str, latencies: dict[str, float]) -> None:
    choices = _read_choices(path)
    choices[key] = {"backend": backend, "batch1_latency_ms": {k: round(v, 2) for k, v in latencies.items()},
                    "cpu": host_cpu(), "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(choices, indent=1, sort_keys=True) + "\n", encoding="utf-8")
