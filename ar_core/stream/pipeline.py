"""The one frame path: frames with stamps in, ranked class scores out (`ActivityStream`).

The ROS node, `ar-core bag-eval`, bag-replay (through the node), `ar-core infer` and the demo differ only in where
frames come from and where results go; every step between is here: sampling by stamps, converting only the
sampled frames, restarting the clip on a size change or a time jump, preprocessing, clip assembly, the rate
limit, the engine call, smoothing and top-k, and the counters that diagnostics and reports show.

Two inference modes (the `inference` setting). clip: every `hop` samples the model runs on the last `frames`
samples. stream: a continual model (ar_core.models.streaming, Hedegaard & Iosifidis, ECCV 2022) steps on every
sampled frame, carrying its state; once warm, every `hop`-th step is published. A restart (size change, time jump,
reset) starts the state afresh.
"""
from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..session import ModelSession, open_session
from .clip_buffer import Clip, ClipBuffer
from .image import ImageError
from .preprocess import FramePreprocessor
from .settings import StreamSettings, get_setting

log = logging.getLogger(__name__)

# What ActivityStream reports through `on_event(kind, message)`; callers log them (the node throttled).
SIZE_CHANGE, TIME_JUMP, BAD_FRAME = "size_change", "time_jump", "bad_frame"

STREAM_QUEUE = 8  # stream mode: sampled frames waiting for their step before the oldest is dropped


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


@dataclass
class StreamCounters:
    """What happened to the frames so far; diagnostics and reports show these."""

    frames: int = 0  # offered
    sampled: int = 0  # taken by the clip schedule: converted and preprocessed
    bad_messages: int = 0  # sampled frames that could not be converted
    size_changes: int = 0  # clip restarted: the image size changed
    buffer_resets: int = 0  # clip restarted: stamps went backwards (a bag starting over)
    rate_limited: int = 0  # clips held back by max_rate_hz
    clips: int = 0  # handed on for inference (stream mode: one per sample)
    predictions: int = 0
    engine_s: float = 0.0  # time in the engine, unpublished stream steps included
    preprocess_s: deque[float] = field(default_factory=lambda: deque(maxlen=300))  # last sampled frames

    def summary(self) -> dict[str, float | int]:
        values: dict[str, float | int] = {name: getattr(self, name) for name in (
            "frames", "sampled", "bad_messages", "size_changes", "buffer_resets", "rate_limited", "clips", "predictions")}
        if self.preprocess_s:
            values["preprocess_ms"] = 1e3 * sum(self.preprocess_s) / len(self.preprocess_s)
        return values


@dataclass
class _StepState:
    """Stream mode: the continual model's state for one (re)start of the stream, and the steps it has taken."""

    restart: int
    values: list[np.ndarray] = field(default_factory=list)
    steps: int = 0


def _log_event(kind: str, message: str) -> None:
    log.warning("%s", message)


class ActivityStream:
    """One stream of frames (a camera topic, a bag topic, a video) through one model.

    Subscription side: `add_frame` samples by stamps (so 15 and 30 fps cameras give clips of the same duration),
    converts and preprocesses only the sampled frames, and returns a Clip every `hop` samples (at most
    `max_rate_hz` a second of camera time); in stream mode every sample, as a one-frame clip. Inference side:
    `predict(clip)` runs the engine (stream mode: one step, the state carried), smooths and ranks.
    `process` does both, for callers without a worker thread. Not thread-safe on either side by itself: one
    thread adds frames, one predicts (they share only counters and settings, read whole).
    """

    def __init__(self, session: ModelSession, settings: StreamSettings,
                 on_event: Callable[[str, str], None] | None = None):
        metadata = session.metadata
        self.session = session
        self.settings = settings
        self.counters = StreamCounters()
        self.streaming = metadata.inference == "stream"
        self._on_event = on_event or _log_event
        self._preprocess = FramePreprocessor(metadata.crop, metadata.crop, metadata.mean, metadata.std)
        # Stream mode takes every sample (a one-frame "clip"); hop and the rate limit apply after the step.
        self._buffer = ClipBuffer(1 if self.streaming else metadata.frames, metadata.interval_s,
                                  1 if self.streaming else settings.hop)
        self._smoother = ScoreSmoother(settings.smoothing)
        self._size: tuple[int, int] | None = None
        self._restarts = 0  # subscription side: bumped whenever the stream starts over
        self._last_clip_stamp = -math.inf
        self._state = _StepState(-1)  # inference side (stream mode)

    @classmethod
    def open(cls, settings: StreamSettings, on_event: Callable[[str, str], None] | None = None) -> ActivityStream:
        """Open the model the settings name and a stream over it."""
        session = open_session(settings.model, settings.weights, settings.backend, settings.device,
                               settings.num_threads, settings.labels, settings.inference, settings.pool_frames)
        return cls(session, settings, on_event)

    @property
    def labels(self) -> list[str]:
        return self.session.labels

    @property
    def queue_capacity(self) -> int:
        """Clips that may wait for the engine: clip mode keeps only the newest (a newer clip makes a waiting one
        stale); stream mode needs every step in order, so a few frames queue before the oldest is dropped."""
        return STREAM_QUEUE if self.streaming else 1

    @property
    def warming_up(self) -> bool:
        """Stream mode: the state is not full yet, so steps are not published."""
        return self.streaming and self._state.steps <= self.session.metadata.stream.warmup_frames

    # ------------------------------------------------------------------ subscription side
    def add_frame(self, stamp_s: float, frame: Any, frame_id: str = "", size: tuple[int, int] | None = None,
                  convert: Callable[[Any], np.ndarray] | None = None) -> Clip | None:
        """Offer the frame stamped `stamp_s` (camera time, seconds). `frame` is (H, W, 3) uint8 RGB, or what
        `convert` turns into that (a message, a decoded video frame): converted only if sampled, and a frame
        that fails to convert (ImageError) is counted and reported, never raised. `size` (width, height), when
        known before conversion, restarts the clip on a change even at frames that are not sampled. Returns the
        clip this frame completes, or None."""
        counters = self.counters
        counters.frames += 1
        if size is not None:
            self._check_size(size)
        if not self._buffer.offer(stamp_s):
            return None
        start = time.perf_counter()
        try:
            rgb = convert(frame) if convert is not None else frame
        except ImageError as err:
            counters.bad_messages += 1
            self._on_event(BAD_FRAME, f"bad image message: {err}")
            return None
        self._check_size((rgb.shape[1], rgb.shape[0]))  # compressed images tell their size only now
        resets = self._buffer.resets
        clip = self._buffer.push(stamp_s, self._preprocess(rgb), frame_id)
        counters.preprocess_s.append(time.perf_counter() - start)
        counters.sampled += 1
        if self._buffer.resets != resets:
            counters.buffer_resets += 1
            self._restarts += 1
            self._on_event(TIME_JUMP, "image stamps went backwards (bag loop?): clip buffer cleared")
        if clip is None or (not self.streaming and self._rate_limited(stamp_s)):
            return None
        counters.clips += 1
        return replace(clip, rgb=rgb, restart=self._restarts)

    def restart(self) -> None:
        """Start the clip (and, in stream mode, the state) afresh from the next frame on."""
        self._buffer.clear()
        self._restarts += 1

    def _check_size(self, size: tuple[int, int]) -> None:
        if size == self._size:
            return
        if self._size is not None:
            self.restart()
            self.counters.size_changes += 1
            self._on_event(SIZE_CHANGE, f"image size changed to {size[0]}x{size[1]}: clip restarted")
        self._size = size

    def _rate_limited(self, stamp_s: float) -> bool:
        """Whether max_rate_hz (in camera time) holds back a prediction at this stamp; counts those it does."""
        max_rate_hz = self.settings.max_rate_hz
        if max_rate_hz > 0 and stamp_s - self._last_clip_stamp < 1.0 / max_rate_hz:
            self.counters.rate_limited += 1
            return True
        self._last_clip_stamp = stamp_s
        return False

    # ------------------------------------------------------------------ inference side
    def predict(self, clip: Clip) -> Prediction | None:
        """The prediction for a clip `add_frame` returned; in stream mode None for steps that are not published
        (warming up, between hops, rate-limited)."""
        start = time.perf_counter()
        if self.streaming:
            scores = self._step(clip)
        else:
            scores = np.asarray(self.session.engine.predict(clip.tensor.unsqueeze(0).numpy()))[0]
        compute_s = time.perf_counter() - start
        self.counters.engine_s += compute_s
        if scores is None:
            return None
        scores = self._smoother(scores)
        self.counters.predictions += 1
        settings = self.settings
        return Prediction(clip.newest_stamp, clip.frame_id, scores,
                          rank(scores, self.labels, settings.top_k, settings.score_threshold), compute_s)

    def _step(self, clip: Clip) -> np.ndarray | None:
        engine, state = self.session.engine, self._state
        if clip.restart != state.restart:  # a new stream: fresh state, warm-up and hop count
            state = self._state = _StepState(clip.restart, engine.initial_state(1))
            self._smoother.clear()
        probabilities, state.values = engine.step(clip.tensor[:, -1].unsqueeze(0).numpy(), state.values)
        state.steps += 1
        warm = state.steps - self.session.metadata.stream.warmup_frames  # published steps: 1, 1 + hop, ...
        if warm < 1 or (warm - 1) % self.settings.hop or self._rate_limited(clip.newest_stamp):
            return None
        return probabilities[0]

    def process(self, stamp_s: float, frame: Any, frame_id: str = "", size: tuple[int, int] | None = None,
                convert: Callable[[Any], np.ndarray] | None = None) -> Prediction | None:
        """`add_frame`, then `predict` on the clip it completes."""
        clip = self.add_frame(stamp_s, frame, frame_id, size, convert)
        return None if clip is None else self.predict(clip)

    # ------------------------------------------------------------------ control
    def update(self, **changes: Any) -> None:
        """Change settings while running; only runtime ones (the schema says which), each checked."""
        for name, value in changes.items():
            setting = get_setting(name)
            if not setting.runtime:
                raise ValueError(f"{name} cannot change while running (restart with the new value)")
            changes[name] = setting.check(value)
        self.settings = self.settings.replace(**changes)
        if not self.streaming:  # a stream steps on every sample; its hop thins what is published
            self._buffer.hop = self.settings.hop
        self._smoother.windows = self.settings.smoothing

    def reset(self) -> None:
        """Start over: an empty clip (a fresh stream state) and no smoothing history (after a pause or a
        lifecycle transition)."""
        self.restart()
        self._smoother.clear()
        self._last_clip_stamp = -math.inf

    def close(self) -> None:
        self.session.close()
