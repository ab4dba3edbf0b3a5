"""Sample a frame stream by its stamps at the model's rate and cut it into clips."""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from .preprocess import clip_to_tensor

EARLY_FRACTION = 0.5  # a frame up to half a camera frame period early is taken: the one nearest the schedule


@dataclass(frozen=True)
class Clip:
    """A model-ready clip and where in the stream it came from."""

    tensor: torch.Tensor  # (3, T, S, S), oldest frame first
    stamps: list[float]  # stamp of each frame, oldest first
    newest_stamp: float
    frame_id: str  # of the newest frame
    rgb: np.ndarray | None = None  # the newest frame as received (RGB), for overlays; set by ActivityStream
    restart: int = 0  # which (re)start of its stream it belongs to; set by ActivityStream (stream state)


class ClipBuffer:
    """The newest `frames` samples of a stream taken every `interval_s` of camera time, a clip every `hop` samples.

    Sampling follows stamps, not arrival, so a 15 fps and a 30 fps camera give clips of the same duration.
    Samples follow a fixed schedule (each due `interval_s` after the previous one's due time, not its
    stamp), so stamp jitter never makes the rate drift; a gap of more than one interval re-anchors the
    schedule on the frame after it, and a stamp older than the newest sample (a bag starting over)
    empties the buffer and counts in `resets`.

    Call `offer(stamp)` for every frame and preprocess and `push` only those it accepts; `push` checks
    again, so pushing every frame is also correct, only slower. Not thread-safe: call it from one thread.
    """

    def __init__(self, frames: int, interval_s: float, hop: int = 1):
        self._entries: deque[tuple[float, torch.Tensor]] = deque(maxlen=_positive_int("frames", frames))
        self.interval_s = interval_s
        self.hop = hop
        self.resets = 0
        self._last_seen: float | None = None  # stamp of the latest offered frame
        self._period = 0.0  # camera frame period, from the last two offered stamps
        self.clear()

    @property
    def frames(self) -> int:
        return self._entries.maxlen

    @frames.setter
    def frames(self, frames: int) -> None:
        self._entries = deque(self._entries, maxlen=_positive_int("frames", frames))

    @property
    def hop(self) -> int:
        return self._hop

    @hop.setter
    def hop(self, hop: int) -> None:
        self._hop = _positive_int("hop", hop)

    @property
    def interval_s(self) -> float:
        return self._interval

    @interval_s.setter
    def interval_s(self, interval_s: float) -> None:
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise ValueError(f"interval_s must be a positive number of seconds, got {interval_s}")
        self._interval = float(interval_s)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget the held samples and the schedule; the next frame starts a new one."""
        self._entries.clear()
        self._due: float | None = None  # when the latest sample was due
        self._frame_id = ""
        self._since_clip: int | None = None  # samples since the last clip; None before the first

    def offer(self, stamp_s: float) -> bool:
        """Whether the frame stamped `stamp_s` is to be sampled."""
        self._observe(stamp_s)
        if self._due is None or stamp_s < self._newest_stamp():
            return True  # the first frame, or a restart that push() will reset on
        return stamp_s >= self._due + self._interval - EARLY_FRACTION * self._period

    def push(self, stamp_s: float, frame: torch.Tensor, frame_id: str = "") -> Clip | None:
        """Keep a preprocessed (3, S, S) frame if it is due; a Clip when `frames` are held and `hop` are new."""
        if not self.offer(stamp_s):
            return None
        if self._due is not None and stamp_s < self._newest_stamp():
            self.resets += 1
            self.clear()
        if self._entries and frame.shape != self._entries[-1][1].shape:
            raise ValueError(f"frame of shape {tuple(frame.shape)} does not match the held frames of shape "
                             f"{tuple(self._entries[-1][1].shape)}; clear() the buffer when changing the crop")
        self._schedule(stamp_s)
        self._entries.append((stamp_s, frame))
        self._frame_id = frame_id
        if self._since_clip is not None:
            self._since_clip += 1
        if len(self._entries) < self.frames or (self._since_clip is not None and self._since_clip < self._hop):
            return None
        self._since_clip = 0
        stamps = [stamp for stamp, _ in self._entries]
        return Clip(clip_to_tensor([frame for _, frame in self._entries]), stamps, stamps[-1], self._frame_id)

    def _observe(self, stamp_s: float) -> None:
        if not math.isfinite(stamp_s):
            raise ValueError(f"frame stamp must be a finite number of seconds, got {stamp_s}")
        if self._last_seen is not None and stamp_s > self._last_seen:
            self._period = stamp_s - self._last_seen
        self._last_seen = stamp_s

    def _schedule(self, stamp_s: float) -> None:
        if self._due is None:
            self._due = stamp_s
            return
        due = self._due + self._interval
        self._due = stamp_s if stamp_s - due > self._interval else due

    def _newest_stamp(self) -> float:
        return self._entries[-1][0]


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value
