"""Video decoding with PyAV that seeks to the frames a clip needs instead of decoding whole files.

Frame index i means "the picture on screen at time i / fps after the first frame", as a constant-rate
player shows it: a frame the file drops (a gap in its timestamps) repeats the one before, and two frames
landing on one slot keep the later. Seeking and full decoding share that definition, so they agree.
"""
from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


# How far, in frames, decode order runs ahead of presentation order in streams with B-frames.
REORDER_FRAMES = 4


class VideoError(ValueError):
    """A video that cannot be opened or decoded; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    num_frames: int  # from the container, else estimated as duration * fps
    duration_s: float
    width: int
    height: int
    codec: str
    start_time: float = 0.0  # presentation time of the first frame, in seconds


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    if not Path(path).is_file():
        raise VideoError(path, "file not found")
    if Path(path).stat().st_size == 0:
        raise VideoError(path, "empty file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise VideoError(path, f"cannot open: {err.strerror or err}") from err
    if not container.streams.video:
        container.close()
        raise VideoError(path, "no video stream")
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read the header and decode the first frame (cheap; it catches empty and corrupt files)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise VideoError(path, "unknown frame rate")
        fps = float(rate)
        if stream.duration:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = stream.frames / fps
        num_frames = stream.frames or round(duration * fps)
        if num_frames <= 0:
            raise VideoError(path, "cannot tell its length (no frame count or duration)")
        first = next(_decoded(path, container, stream), None)
        if first is None:
            raise VideoError(path, "no decodable video frame")
        start_time = float(first.time) if first.time is not None else 0.0
        return VideoInfo(fps, num_frames, duration, first.width, first.height,
                         stream.codec_context.name, start_time)


def read_frames(path: str | os.PathLike, indices: Sequence[int], info: VideoInfo | None = None) -> np.ndarray:
    """Frames at `indices` as uint8 RGB (len(indices), H, W, 3); indices past the end repeat the last frame.

    Seeks to the keyframe at or before the first index and decodes forward only up to the last one.
    """
    if len(indices) == 0:
        raise ValueError("read_frames needs at least one frame index")
    info = info or probe(path)
    wanted = [min(max(int(i), 0), info.num_frames - 1) for i in indices]
    first, last = min(wanted), max(wanted)
    with _open(path) as container:
        stream = container.streams.video[0]
        picked = _pick(_slots(path, container, stream, info, first), set(wanted), last)
        if picked is None:  # the seek landed after the first frame we need: decode from the start instead
            container.seek(0, backward=True, stream=None)
            picked = _pick(_slots(path, container, stream, info), set(wanted), last)
    if not picked:
        raise VideoError(path, f"decoded no frame at or before index {first}")
    # Indices the file turned out too short for (an estimated length) get the last frame decoded.
    final = picked[max(picked)]
    return np.stack([picked.get(i, final) for i in wanted])


def read_all_frames(path: str | os.PathLike, info: VideoInfo | None = None) -> np.ndarray:
    """Every frame, decoded from the start without seeking: uint8 RGB (N, H, W, 3)."""
    info = info or probe(path)
    with _open(path) as container:
        frames = [_rgb(frame) for _, frame in _slots(path, container, container.streams.video[0], info)]
    return np.stack(frames)


def iter_frames(path: str | os.PathLike) -> Iterator[tuple[float, av.VideoFrame]]:
    """Every frame in presentation order with its presentation time in seconds from the first frame, decoded
    lazily: turn the frames you keep into RGB with `frame_to_rgb` (the frame path converts sampled ones only)."""
    info = probe(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        depth = REORDER_FRAMES if stream.codec_context.has_b_frames else 0
        for index, (frame, time) in enumerate(_presentation_times(_decoded(path, container, stream), depth)):
            yield (index / info.fps if time is None else time - info.start_time), frame


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame."""
    return _rgb(frame)


def _pick(slots: Iterator[tuple[int, av.VideoFrame]], wanted: set[int], last: int) -> dict[int, np.ndarray] | None:
    """RGB arrays for the wanted slots up to `last`, or None when the slots begin after min(wanted)."""
    picked: dict[int, np.ndarray] = {}
    first = min(wanted)
    converted: tuple[av.VideoFrame, np.ndarray] | None = None
    for index, frame in slots:
        if not picked and index > first:
            return None
        if index in wanted:
            if converted is None or converted[0] is not frame:  # a repeated frame is converted once
                converted = (frame, _rgb(frame))
            picked[index] = converted[1]
        if index >= last:
            break
    return picked


def _slots(path, container, stream, info: VideoInfo, seek_to: int = 0) -> Iterator[tuple[int, av.VideoFrame]]:
    """(index, frame) for consecutive frame slots, starting at the keyframe before slot `seek_to`."""
    if seek_to > 0:
        # Some demuxers index decode times, which run up to a few frames ahead of presentation times
        # with B-frames: aim a few frames early so the keyframe found is not past the one we need.
        seconds = info.start_time + max(seek_to - REORDER_FRAMES, 0) / info.fps
        container.seek(int(seconds / stream.time_base), backward=True, stream=stream)
    previous, previous_index = None, -1
    depth = REORDER_FRAMES if stream.codec_context.has_b_frames else 0
    for frame, time in _presentation_times(_decoded(path, container, stream), depth):
        index = previous_index + 1 if time is None else round((time - info.start_time) * info.fps)
        if previous is not None:
            yield from ((i, previous) for i in range(previous_index, index))
            index = max(index, previous_index)  # out-of-order timestamps: keep slots increasing
        previous, previous_index = frame, index
    if previous is not None:
        yield previous_index, previous


def _presentation_times(frames: Iterator[av.VideoFrame], depth: int) -> Iterator[tuple[av.VideoFrame, float | None]]:
    """Each frame with its presentation time: the smallest time not yet given out among it and the next
    `depth` frames.

    Decoders emit frames in presentation order, but some containers (H.264 in AVI) hold only decode
    order, and FFmpeg then stamps frames with permuted times. Over a window, the times are the right
    set, so the k-th frame out takes the k-th smallest; where they already increase, nothing changes.
    """
    pending: deque[av.VideoFrame] = deque()
    times: list[float] = []
    for frame in frames:
        pending.append(frame)
        if frame.time is not None:
            heapq.heappush(times, frame.time)
        if len(pending) > depth:
            oldest = pending.popleft()
            yield oldest, heapq.heappop(times) if oldest.time is not None else None
    for oldest in pending:
        yield oldest, heapq.heappop(times) if oldest.time is not None else None


def _decoded(path, container, stream) -> Iterator[av.VideoFrame]:
    """Decoded frames of the video stream in presentation order; audio packets are never decoded."""
    try:
        for packet in container.demux(stream):
            yield from packet.decode()
    except av.FFmpegError as err:
        raise VideoError(path, f"decoding failed: {err.strerror or err}") from err


def _rgb(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")
