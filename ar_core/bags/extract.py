"""`ar-core bag-extract`: cut the labelled segments of a bag into a class-folder video dataset,

    OUT/<label>/<bag name>_<i>.mp4      (i: the segment's place in the truth file, from 0)

which `VideoFolderDataset` and `ar-core train` read. Videos are h264 at the camera's frame rate (from the
image stamps), each frame placed on that frame grid by its stamp, so dropped frames keep their time.
Each file is written atomically; a bag that breaks off keeps the videos of the segments before the break.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain, groupby, islice
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_path
from ..stream.image import ImageError
from .reader import Bag, BagImage, to_rgb_from_message
from .truth import Segment, TruthError, segment_index

log = logging.getLogger(__name__)

RATE_FRAMES = 30  # the stamps of this many first frames set the frame rate
ENCODER_OPTIONS = {"crf": "18", "preset": "veryfast"}


@dataclass(frozen=True)
class Extracted:
    videos: list[Path]  # one per segment that holds frames, in truth-file order
    empty: list[Segment]  # segments no frame of the topic falls in
    fps: float


def extract_segments(bag_path: str | os.PathLike, topic: str, segments: Sequence[Segment],
                     out_dir: str | os.PathLike) -> Extracted:
    """Write one video per segment that holds frames of `topic`."""
    for s in segments:
        if s.label in (".", "..") or any(c in s.label for c in "/\\\0"):
            raise TruthError(f"truth file line {s.line}: label {s.label!r} cannot be a folder name")
    bag = Bag(bag_path)
    images = bag.images(topic)
    first = list(islice(images, RATE_FRAMES))
    fps = frame_rate([image.stamp_s for image in first])
    name = bag.path.resolve().name
    videos = {}
    for index, group in groupby(_in_segments(bag, chain(first, images), segments), key=lambda pair: pair[0]):
        path = Path(out_dir) / segments[index].label / f"{name}_{index}.mp4"
        videos[index] = write_video(path, _frames(image for _, image in group), fps)
    return Extracted([videos[i] for i in sorted(videos)], [s for i, s in enumerate(segments) if i not in videos],
                     fps)


def frame_rate(stamps: Sequence[float]) -> float:
    """Frames per second from image stamps: the median period, so a dropped frame does not skew it."""
    periods = np.diff(stamps)
    periods = periods[periods > 0]
    if not len(periods):
        raise ValueError(f"cannot tell the frame rate from {len(stamps)} frame stamp(s): need two distinct ones")
    return round(1.0 / float(np.median(periods)), 3)


def write_video(path: str | os.PathLike, frames: Iterable[tuple[np.ndarray, float]], fps: float) -> Path:
    """Encode (RGB frame, stamp) pairs as h264 mp4, each frame at round((stamp - first) * fps) on the grid."""
    import av

    path, rate = Path(path), Fraction(fps).limit_denominator(1001)
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate, options=dict(ENCODER_OPTIONS))
        first_stamp, last_pts = None, -1
        for rgb, stamp in frames:
            rgb = rgb[:rgb.shape[0] // 2 * 2, :rgb.shape[1] // 2 * 2]  # yuv420p needs even sides
            if first_stamp is None:
                first_stamp, (stream.height, stream.width), stream.pix_fmt = stamp, rgb.shape[:2], "yuv420p"
            elif rgb.shape[:2] != (stream.height, stream.width):  # the camera changed resolution
                rgb = cv2.resize(rgb, (stream.width, stream.height), interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            last_pts = frame.pts = max(round((stamp - first_stamp) * fps), last_pts + 1)
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _frames(images: Iterable[BagImage]) -> Iterator[tuple[np.ndarray, float]]:
    for image in images:
        try:
            yield to_rgb_from_message(image.message), image.stamp_s
        except ImageError as err:
            log.warning("skipping the image stamped %.3f: %s", image.stamp_s, err)


def _in_segments(bag: Bag, images: Iterable[BagImage], segments: Sequence[Segment]) -> Iterator[tuple[int, BagImage]]:
    """(segment index, image) of the images that fall in a segment."""
    for image in images:
        index = segment_index(segments, bag.time_s(image.bag_time_ns))
        if index is not None:
            yield index, image
