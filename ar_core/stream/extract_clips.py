"""`ar-core extract-clips`: candidate clips for a data set, found by the video model on the frame path.

Each video runs through an ActivityStream as a camera would (`predict_video`; the stream's `smoothing` averages
the scores). For each asked class, a stretch of consecutive predictions scoring at least the threshold becomes a
segment, from the first frame the stretch's first clip saw to the newest frame of its last clip; segments lasting
at least `min_seconds` are cut from the source video:

    OUT/<class>/<video stem>_<start s>-<end s>.mp4      (a class-folder data set: `train --dataset folder`)
    OUT/segments.csv                                     (video, class, start_s, end_s, mean_score, max_score, file)
    OUT/<video stem>_timeline.png                        (each class's score over time, the threshold, the cuts)
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..bags.extract import write_video
from ..data.video import frame_to_rgb, iter_frames, probe
from ..eval.reports import save_png
from .pipeline import ActivityStream, Prediction
from .video import predict_video

SEGMENTS_FILE = "segments.csv"
COLUMNS = ("video", "class", "start_s", "end_s", "mean_score", "max_score", "file")


@dataclass(frozen=True)
class Segment:
    """A stretch of one video where one class kept scoring at least the threshold."""

    video: Path
    label: str
    start_s: float  # seconds from the video's first frame (the stamps predict_video gives)
    end_s: float
    mean_score: float
    max_score: float
    file: Path | None = None  # the cut clip, once written

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Extracted:
    segments: list[Segment]  # in video order, then by start
    csv: Path
    timelines: list[Path]


def class_indices(names: Sequence[str], labels: Sequence[str]) -> list[int]:
    """Indices of `names` in the model's labels; unknown names are an error listing them and a few valid ones."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = [name for name in names if name not in index]
    if unknown:
        raise ValueError(f"classes not in the model's labels: {', '.join(map(repr, unknown))} (labels: "
                         f"{', '.join(map(repr, labels[:8]))}{', ...' if len(labels) > 8 else ''})")
    if not names:
        raise ValueError("no classes given (--classes a,b)")
    for name in names:
        if name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ValueError(f"class {name!r} cannot be a folder name")
    return [index[name] for name in dict.fromkeys(names)]


def find_segments(stamps: np.ndarray, scores: np.ndarray, threshold: float, min_seconds: float,
                  window_s: float) -> list[tuple[float, float, float, float]]:
    """(start_s, end_s, mean, max) of each run of consecutive `scores` >= threshold lasting >= min_seconds.

    A prediction at stamp t speaks for its clip, the frames in [t - window_s, t], so a run from stamp a to b
    covers [a - window_s, b] (clamped at 0)."""
    above = np.concatenate([[False], scores >= threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    found = []
    for first, stop in zip(edges[::2], edges[1::2]):
        start, end = max(0.0, float(stamps[first]) - window_s), float(stamps[stop - 1])
        if end - start >= min_seconds:
            run = scores[first:stop]
            found.append((start, end, float(run.mean()), float(run.max())))
    return found


def extract_clips(videos: Sequence[str | os.PathLike], stream: ActivityStream, classes: Sequence[str],
                  threshold: float, min_seconds: float, out_dir: str | os.PathLike,
                  progress: bool = True) -> Extracted:
    """Find and cut the segments of `classes` in each video (see the module's docstring)."""
    from tqdm import tqdm

    out_dir, videos = Path(out_dir), [Path(v) for v in videos]
    indices = class_indices(classes, stream.labels)
    stems = [v.stem for v in videos]
    if len(set(stems)) != len(stems):
        raise ValueError(f"videos share a file name stem, so their clips would collide: "
                         f"{sorted({s for s in stems if stems.count(s) > 1})}")
    infos = [probe(video) for video in videos]  # a missing or broken video fails before any work is done
    for index in indices:
        (out_dir / stream.labels[index]).mkdir(parents=True, exist_ok=True)  # every class a folder of the set
    window_s = clip_window_s(stream)
    segments, timelines = [], []
    for video, info in tqdm(list(zip(videos, infos)), unit="video", desc="extract-clips",
                            disable=None if progress else True):
        stream.reset()
        predictions = list(predict_video(video, stream))
        stamps = np.array([p.stamp for p in predictions], dtype=float)
        scores = np.array([p.scores for p in predictions], dtype=float).reshape(len(predictions), len(stream.labels))
        found = []
        for index in indices:
            label = stream.labels[index]
            for start, end, mean, peak in find_segments(stamps, scores[:, index], threshold, min_seconds, window_s):
                path = out_dir / label / f"{video.stem}_{start:.2f}-{end:.2f}.mp4"
                write_video(path, _frames_between(video, start, end, 0.5 / info.fps), info.fps)
                found.append(Segment(video, label, start, end, mean, peak, path))
        found.sort(key=lambda s: (s.start_s, s.label))
        segments += found
        timelines.append(plot_scores(video, predictions, [stream.labels[i] for i in indices], indices, threshold,
                                     found, out_dir / f"{video.stem}_timeline.png"))
    return Extracted(segments, write_segments_csv(segments, out_dir / SEGMENTS_FILE), timelines)


def clip_window_s(stream: ActivityStream) -> float:
    """Seconds from the oldest to the newest frame of what one prediction sees (clip mode: one clip; stream
    mode: the frames of its final temporal pool)."""
    metadata = stream.session.metadata
    frames = metadata.stream.pool_frames if stream.streaming else metadata.frames
    return (frames - 1) * metadata.interval_s


def write_segments_csv(segments: Sequence[Segment], path: Path) -> Path:
    """segments.csv, written atomically; `file` is relative to the CSV's folder."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in segments:
        file = os.path.relpath(s.file, path.parent) if s.file else ""
        writer.writerow([str(s.video), s.label, f"{s.start_s:.3f}", f"{s.end_s:.3f}", f"{s.mean_score:.4f}",
                         f"{s.max_score:.4f}", Path(file).as_posix()])
    with atomic_path(path) as tmp:
        tmp.write_text(text.getvalue(), encoding="utf-8")
    return path


def plot_scores(video: Path, predictions: Sequence[Prediction], names: Sequence[str], indices: Sequence[int],
                threshold: float, segments: Sequence[Segment], path: Path) -> Path:
    """Each asked class's (smoothed) score over the video, the threshold, and the cut segments shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axis = plt.subplots(figsize=(12, 3.5))
    colours = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)}
    times = [p.stamp for p in predictions]
    for name, index in zip(names, indices):
        axis.plot(times, [float(p.scores[index]) for p in predictions], color=colours[name], linewidth=1.2,
                  label=name)
    for s in segments:
        axis.axvspan(s.start_s, s.end_s, color=colours[s.label], alpha=0.18)
    axis.axhline(threshold, color="#555555", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    axis.set_ylim(0, 1)
    axis.set_xlabel("seconds from the video's first frame")
    axis.set_ylabel("score")
    axis.set_title(f"{video.name}: scores and the {len(segments)} cut segment(s) (shaded)")
    axis.legend(loc="upper right", fontsize=8)
    return save_png(fig, path)


def _frames_between(video: Path, start_s: float, end_s: float, tolerance_s: float) -> Iterator[tuple[np.ndarray, float]]:
    """(RGB, time) of the video's frames from start_s to end_s (within half a frame), decoding no further."""
    for time_s, frame in iter_frames(video):
        if time_s > end_s + tolerance_s:
            break
        if time_s >= start_s - tolerance_s:
            yield frame_to_rgb(frame), time_s
