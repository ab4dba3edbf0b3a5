"""What every runtime shares: the engine interface, the errors, and importing a backend's package.

All errors are ValueErrors (FileNotFoundError for missing weights) whose message names the file, backend or
shape at fault.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from ..models.metadata import ModelMetadata

Clips = np.ndarray | torch.Tensor
# pip distributions that provide each package, for the error message when one is missing.
INSTALL_HINTS = {"onnxruntime": "onnxruntime (CPU) or onnxruntime-gpu", "openvino": "openvino",
                 "tensorrt": "tensorrt-cu12 (see requirements-gpu.txt)", "torch": "torch", "onnx": "onnx"}


class ModelFormatError(ValueError):
    """A file that is not a model, or not one this caller can run, or whose parts disagree."""


class WeightsNotFound(FileNotFoundError):
    """No weights where the user pointed, or no cached official checkpoint; the message says what to run."""


class InputShapeError(ValueError):
    """Clips that do not fit the model's input."""


class BackendUnavailable(ValueError):
    """A backend whose Python package, provider or device is missing on this machine."""


def require_package(package: str, purpose: str) -> ModuleType:
    """Import `package`, or raise BackendUnavailable naming what to install."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise BackendUnavailable(f"{purpose} needs the Python package {package!r}, which is not installed "
                                 f"here ({err}); install {INSTALL_HINTS.get(package, package)}") from None


class ResidentStates(ABC):
    """The states of `batch` streams kept inside a runtime between steps instead of crossing the API as arrays
    (OpenVINO: one request per stream whose variables hold them). `step` advances them in place and hands the
    same object back, so only the newest is valid; `arrays()` copies them out, e.g. to carry a stream on to
    another engine, whose `step` takes plain arrays."""

    def __init__(self, engine: "InferenceEngine", batch: int):
        self.engine, self.batch = engine, batch

    @abstractmethod
    def arrays(self) -> list[np.ndarray]:
        """The K states as float32 arrays (batch, *state_shapes[k]), in the metadata's order."""


States = list[np.ndarray] | ResidentStates


class InferenceEngine(ABC):
    """Runs one model. `predict` takes clips (N, 3, T, S, S) float32, numpy or torch, normalised as the
    metadata says, and returns class probabilities (N, classes) as float32 numpy.

    A stream model (metadata.inference == "stream": a continual X3D step, ar_core.models.streaming) runs
    `step(frames, states)` instead: the newest frame of each of B streams (B, 3, S, S) and their states
    (initial_state(B) at a stream's start) -> (probabilities (B, classes), new states). The first
    metadata.stream.warmup_frames outputs after a start are to be discarded. States are K float32 arrays
    (B, *state_shapes[k]), independent along axis 0 (callers may concatenate or split them), or, where a
    backend keeps them inside (ResidentStates: OpenVINO), an object to hand back as it is; every stream
    engine also takes arrays, so a stream can move between backends.
    """

    backend: str  # the name create_engine knows it by

    def __init__(self, metadata: ModelMetadata, device: str):
        self.metadata = metadata
        self.device = device  # where it actually runs (after any fallback)
        self.weights: Path | None = None  # the model file it was opened from (None: an in-memory network)
        self.closed = False

    def predict(self, clips: Clips) -> np.ndarray:
        if self.closed:
            raise RuntimeError(f"{self!r} is closed")
        if self.metadata.inference == "stream":
            raise ModelFormatError(f"{self!r} runs a stream model: it takes one frame per stream and step "
                                   f"with step(frames, states), not predict(clips)")
        self._check_clips(clips)
        return np.asarray(self._predict(clips), dtype=np.float32)

    def step(self, frames: Clips, states: States) -> tuple[np.ndarray, States]:
        """One stream step: frames (B, 3, S, S) float32 and B streams' states -> (probabilities, new states)."""
        if self.closed:
            raise RuntimeError(f"{self!r} is closed")
        if self.metadata.inference != "stream":
            raise ModelFormatError(f"{self!r} runs a clip model: predict(clips) it, or open the weights with "
                                   f"inference='stream' (or a stream export) to step frames")
        self._check_step(frames, states)
        probabilities, new_states = self._step(frames, states)
        if not isinstance(new_states, ResidentStates):
            new_states = [np.asarray(state, dtype=np.float32) for state in new_states]
        return np.asarray(probabilities, dtype=np.float32), new_states

    def initial_state(self, batch: int) -> States:
        """The states at the start of `batch` streams: zeros (the warm-up policy of models.streaming)."""
        if self.metadata.inference != "stream":
            raise ModelFormatError(f"{self!r} runs a clip model, which has no stream state")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        return self._initial_state(batch)

    def _initial_state(self, batch: int) -> States:
        return [np.zeros((batch, *shape), np.float32) for shape in self.metadata.stream.state_shapes]

    def close(self) -> None:
        """Release the model and its memory (GPU memory too); the engine cannot predict afterwards."""
        if not self.closed:
            self._release()
            self.closed = True

    @abstractmethod
    def _predict(self, clips: Clips) -> np.ndarray:
        """Probabilities for clips that passed the checks."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the runtime's objects so their memory is freed."""

    def _step(self, frames: Clips, states: States) -> tuple[np.ndarray, States]:
        """Probabilities and new states for inputs that passed the checks (backends that run streams); states
        are arrays unless this engine's _initial_state makes ResidentStates."""
        raise BackendUnavailable(f"the {self.backend} backend does not run stream models")

    def __enter__(self) -> "InferenceEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.metadata.inference == "stream":
            inputs = f"frames={'x'.join(map(str, self.metadata.frame_shape))}, pool={self.metadata.stream.pool_frames}"
        else:
            inputs = f"clips={'x'.join(map(str, self.metadata.input_shape))}"
        return (f"{type(self).__name__}(backend={self.backend!r}, device={self.device!r}, "
                f"model={self.metadata.title}, {inputs}, classes={self.metadata.num_classes})")

    def _check_step(self, frames: Clips, states: States) -> None:
        if not isinstance(frames, (np.ndarray, torch.Tensor)) or frames.dtype not in (np.float32, torch.float32):
            raise InputShapeError(f"frames must be a float32 numpy array or torch tensor, got "
                                  f"{getattr(frames, 'dtype', type(frames).__name__)}")
        expected = self.metadata.frame_shape
        if frames.ndim != 4 or tuple(frames.shape[1:]) != expected or frames.shape[0] < 1:
            raise InputShapeError(f"step takes frames (B, {', '.join(map(str, expected))}), got "
                                  f"{tuple(frames.shape)}")
        batch = frames.shape[0]
        if isinstance(states, ResidentStates):
            if states.engine is not self:
                raise InputShapeError(f"these states live in {states.engine!r}; hand {self!r} its own "
                                      f"(initial_state) or plain arrays (states.arrays())")
            if states.batch != batch:
                raise InputShapeError(f"states of {states.batch} streams, frames of {batch}")
            return
        shapes = self.metadata.stream.state_shapes
        if len(states) != len(shapes):
            raise InputShapeError(f"step takes {len(shapes)} states (initial_state(batch) at a stream's start), "
                                  f"got {len(states)}")
        for k, (state, shape) in enumerate(zip(states, shapes)):
            if tuple(state.shape) != (batch, *shape) or state.dtype not in (np.float32, torch.float32):
                raise InputShapeError(f"state {k} ({self.metadata.stream.state_names[k]}) must be float32 "
                                      f"{(batch, *shape)} for {batch} streams, got {tuple(state.shape)} {state.dtype}")

    def _check_clips(self, clips: Clips) -> None:
        if not isinstance(clips, (np.ndarray, torch.Tensor)):
            raise InputShapeError(f"clips must be a numpy array or torch tensor, got {type(clips).__name__}")
        if clips.dtype not in (np.float32, torch.float32):
            raise InputShapeError(f"clips must be float32 (normalised RGB), got {clips.dtype}")
        expected = self.metadata.input_shape
        shape = tuple(clips.shape)
        if len(shape) == 4 and shape == expected:
            raise InputShapeError(f"got one clip of shape {shape}; predict takes a batch (N, 3, T, S, S): "
                                  f"use clips[None]")
        if len(shape) != 5 or shape[1:] != expected or shape[0] < 1:
            got = "x".join(map(str, shape[1:])) if len(shape) == 5 else f"an array of shape {shape}"
            raise InputShapeError(f"model expects {'x'.join(map(str, expected))} clips, got {got} "
                                  f"(batch shape {shape})")
