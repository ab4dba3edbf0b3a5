"""The one frame path: RGB frames with stamps in, ranked class scores out.

The ROS node, `ar-core bag-eval`, `ar-core infer` and the demo differ only in where frames come from and where
results go; everything between (sampling by stamps, preprocessing, clip assembly, smoothing, top-k) is here.
"""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .clip_buffer import Clip, ClipBuffer
from .preprocess import FramePreprocessor

REFERENCE_FPS = 30.0  # X3D sampling rates count frames of a 30 fps video


@dataclass(frozen=True)
class ClipSpec:
    """What a model needs from the stream (a subset of its metadata)."""

    frames: int
    sampling_rate: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def of(cls, metadata) -> "ClipSpec":
        """From anything with those attributes: ModelMetadata or ModelSpec (test crop)."""
        crop = getattr(metadata, "crop", None) or metadata.test_crop
        return cls(metadata.frames, metadata.sampling_rate, crop, tuple(metadata.mean), tuple(metadata.std))

    @property
    def interval_s(self) -> float:
        return self.sampling_rate / REFERENCE_FPS


@dataclass(frozen=True)
class Ranked:
    class_index: int
    label: str
    score: float


@dataclass(frozen=True)
class Prediction:
    stamp: float  # stamp of the newest frame in the clip (camera time, seconds)
    frame_id: str
    scores: np.ndarray  # (num_classes,) probabilities after smoothing
    top: list[Ranked]  # best first, at most top_k, none under the threshold
    compute_s: float  # time spent in the engine


def rank(scores: np.ndarray, labels: list[str], top_k: int, threshold: float = 0.0) -> list[Ranked]:
    """The `top_k` best classes by score, best first, leaving out scores under `threshold`."""
    k = min(top_k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k] if k > 0 else np.array([], dtype=int)
    best = best[np.argsort(-scores[best], kind="stable")]
    return [Ranked(int(i), labels[i], float(scores[i])) for i in best if scores[i] >= threshold]


@dataclass
class ScoreSmoother:
    """Mean of the last `windows` score vectors (1 = no smoothing)."""

    windows: int = 1
    _history: deque = field(default_factory=deque)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        self._history.append(scores)
        while len(self._history) > max(1, self.windows):
            self._history.popleft()
        return np.mean(self._history, axis=0) if len(self._history) > 1 else scores

    def clear(self) -> None:
        self._history.clear()


class ClipAssembler:
    """Frames in, clips out, exactly as the node does it: samples by stamps, preprocesses sampled frames only,
    restarts the clip when the image size changes (frames of two sizes never mix in one clip), emits a clip
    every `hop` samples, and holds clips back to at most `max_rate_hz` (in camera time, so bag replays agree)."""

    def __init__(self, spec: ClipSpec, hop: int = 1, max_rate_hz: float = 0.0):
        self.spec = spec
        self.preprocess = FramePreprocessor(spec.crop, spec.crop, spec.mean, spec.std)
        self.buffer = ClipBuffer(spec.frames, spec.interval_s, hop)
        self.max_rate_hz = max_rate_hz
        self.size: tuple[int, int] | None = None
        self.size_changes = 0
        self.rate_limited = 0
        self._last_clip_stamp = -math.inf

    def wants(self, stamp_s: float, size: tuple[int, int] | None = None) -> bool:
        """Whether a frame at this stamp (and of this (width, height), when known before decoding) would be
        sampled: convert and push only those."""
        if size is not None and size != self.size:
            if self.size is not None:
                self.buffer.clear()
                self.size_changes += 1
            self.size = size
        return self.buffer.offer(stamp_s)

    def push(self, stamp_s: float, rgb: np.ndarray, frame_id: str = "") -> Clip | None:
        if not self.buffer.offer(stamp_s):
            return None
        clip = self.buffer.push(stamp_s, self.preprocess(rgb), frame_id)
        if clip is None:
            return None
        if self.max_rate_hz > 0 and stamp_s - self._last_clip_stamp < 1.0 / self.max_rate_hz:
            self.rate_limited += 1
            return None
        self._last_clip_stamp = stamp_s
        return clip

    def clear(self) -> None:
        self.buffer.clear()
        self._last_clip_stamp = -math.inf


class Classifier:
    """Clip -> Prediction with an InferenceEngine, smoothing over the last windows and top-k."""

    def __init__(self, engine, labels: list[str], top_k: int = 5, score_threshold: float = 0.0, smoothing: int = 1):
        self.engine = engine
        self.labels = labels
        self.top_k = top_k
        self.score_threshold = score_threshold
        self.smoother = ScoreSmoother(smoothing)

    def __call__(self, clip: Clip) -> Prediction:
        start = time.perf_counter()
        scores = np.asarray(self.engine.predict(clip.tensor.unsqueeze(0).numpy()))[0]
        compute_s = time.perf_counter() - start
        scores = self.smoother(scores)
        return Prediction(clip.newest_stamp, clip.frame_id, scores,
                          rank(scores, self.labels, self.top_k, self.score_threshold), compute_s)
