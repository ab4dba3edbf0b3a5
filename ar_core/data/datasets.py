"""Video classification datasets: Kinetics, UCF-101, HMDB51, rawframe folders and plain class folders.

All share `ClipDataset`: every video is probed once at construction (unreadable ones are skipped and
listed in `skipped`), and `__getitem__` returns (clip (3, T, S, S), label) in "train"/"val" mode or
(views (num_clips * num_crops, 3, T, S, S), label) in "test" mode, normalised with mean/std.
"""
from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..labels import read_labels
from ..models.specs import KINETICS_MEAN, KINETICS_STD, ModelSpec
from .sampling import random_clip_indices, stride_for_fps, uniform_clip_indices
from .transforms import ClipTransform
from .video import VideoError, VideoInfo, probe, read_frames

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
MODES = ("train", "val", "test")
# SlowFast configs/Kinetics/X3D_*.yaml DATA.TRAIN_JITTER_SCALES: the short-side range of training.
TRAIN_JITTER_SCALES = {"xs": (182, 228), "s": (182, 228), "m": (256, 320), "l": (356, 446)}
MAX_BAD_IN_A_ROW = 10  # consecutive undecodable samples before __getitem__ gives up


class AnnotationError(ValueError):
    """A bad annotation or split file; the message names the file and, where it applies, the line."""

    def __init__(self, path: str | os.PathLike, line: int | None, reason: str):
        super().__init__(f"{path}:{line}: {reason}" if line else f"{path}: {reason}")


def annotation_lines(path: str | os.PathLike) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of the non-blank lines of an annotation file."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "annotation file not found")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]


def inside_root(root: Path, relative: str, file: str | os.PathLike, line: int) -> Path:
    """root / relative, refusing paths that leave root (absolute, or climbing with '..')."""
    normal = os.path.normpath(relative)
    if os.path.isabs(relative) or normal == ".." or normal.startswith(".." + os.sep):
        raise AnnotationError(file, line, f"path {relative!r} points outside the dataset root {root}")
    return root / normal


@dataclass(frozen=True)
class FrameFolder:
    """A clip stored as numbered images: frames first .. first + count - 1 of `folder`."""

    folder: Path
    first: int
    count: int
    fps: float
    template: str

    def frame_path(self, index: int) -> Path:
        return self.folder / self.template.format(self.first + index)

    def __str__(self) -> str:
        return str(self.folder)


Source = Path | FrameFolder


class ClipDataset(Dataset):
    """Clips of labelled videos, sampled and transformed the X3D/SlowFast way.

    sampling_rate counts frames of a 30 fps video and is converted to each video's fps, so a clip lasts
    frames * sampling_rate / 30 seconds. short_side: a (min, max) range for training's scale jitter,
    one length for "val"/"test" (default: (crop, 1.25 * crop) and crop). Training draws (clip position,
    scale, crop, flip) are a function of (seed, epoch, index) alone: the same in any DataLoader worker, new
    each epoch (`set_epoch`), so a resumed run repeats them whatever num_workers is.
    """

    def __init__(self, items: Sequence[tuple[Source, int]], classes: Sequence[str], *, frames: int = 4,
                 sampling_rate: float = 12, crop: int = 160, short_side: int | tuple[int, int] | None = None,
                 mean: Sequence[float] = KINETICS_MEAN, std: Sequence[float] = KINETICS_STD,
                 mode: str = "train", num_clips: int = 10, num_crops: int = 3, seed: int = 0,
                 flip: bool = True):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if short_side is None:
            short_side = (crop, round(1.25 * crop)) if mode == "train" else crop
        self.classes: list[str] = list(classes)
        self.frames, self.sampling_rate, self.mode, self.seed = frames, sampling_rate, mode, seed
        self.num_clips, self.num_crops = (num_clips, num_crops) if mode == "test" else (1, 1)
        self.transform = ClipTransform(mode == "train", crop, short_side, mean, std, flip=flip)
        self.skipped: list[tuple[str, str]] = []
        self.samples = self._probe_all(items)
        self.epoch = 0

    @classmethod
    def from_spec(cls, spec: ModelSpec, *args, mode: str = "train", **kwargs) -> ClipDataset:
        """The dataset with frames, sampling rate, crop, short side and normalisation of an X3D size."""
        train = mode == "train"
        knobs = dict(frames=spec.frames, sampling_rate=spec.sampling_rate, mean=spec.mean, std=spec.std,
                     crop=spec.train_crop if train else spec.test_crop,
                     short_side=TRAIN_JITTER_SCALES.get(spec.name, (spec.test_crop, round(1.25 * spec.test_crop)))
                     if train else spec.test_crop)
        return cls(*args, mode=mode, **{**knobs, **kwargs})

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        """Training draws new clips and crops each epoch; the loop calls this before making its loader."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        for attempt in range(MAX_BAD_IN_A_ROW):
            position = (index + attempt) % len(self.samples)
            source, label, info = self.samples[position]
            try:
                return self._clip(source, info, position), label
            except VideoError as err:
                # Training must not die on one bad file: note it and serve the next sample instead.
                log.warning("%s: skipping %s: %s", type(self).__name__, source, err.reason)
                self.skipped.append((str(source), err.reason))
        raise VideoError(source, f"{MAX_BAD_IN_A_ROW} samples in a row from index {index} failed to decode")

    def window_centres(self, index: int) -> tuple[int, np.ndarray]:
        """(frames in item `index`'s video, the centre frame position of each of its temporal windows in view
        order): the windows `__getitem__` samples in val/test mode, for frame-wise accuracy."""
        _, _, info = self.samples[index]
        stride = stride_for_fps(self.sampling_rate, info.fps)
        clips = uniform_clip_indices(info.num_frames, self.frames, stride, self.num_clips)
        return info.num_frames, np.array([(clip[0] + clip[-1]) / 2 for clip in clips], dtype=np.float64)

    def probe_source(self, source: Source) -> VideoInfo:
        return probe(source)

    def read_source(self, source: Source, indices: list[int], info: VideoInfo) -> np.ndarray:
        return read_frames(source, indices, info)

    def _probe_all(self, items: Sequence[tuple[Source, int]]) -> list[tuple[Source, int, VideoInfo]]:
        def try_probe(source: Source) -> VideoInfo | VideoError:
            try:
                return self.probe_source(source)
            except VideoError as err:
                return err

        # Probing waits mostly on the disk and on FFmpeg, which runs without the GIL: threads help.
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            infos = list(pool.map(try_probe, [source for source, _ in items]))
        samples = []
        for (source, label), info in zip(items, infos):
            if isinstance(info, VideoError):
                self.skipped.append((str(source), info.reason))
            else:
                samples.append((source, label, info))
        if self.skipped:
            path, reason = self.skipped[0]
            log.warning("%s: skipped %d of %d videos (first: %s: %s)", type(self).__name__,
                        len(self.skipped), len(items), path, reason)
        if not samples:
            raise ValueError(f"{type(self).__name__}: none of the {len(items)} videos is usable"
                             + (f" (first problem: {self.skipped[0][0]}: {self.skipped[0][1]})" if items else ""))
        return samples

    def _clip(self, source: Source, info: VideoInfo, position: int) -> torch.Tensor:
        stride = stride_for_fps(self.sampling_rate, info.fps)
        if self.mode == "train":
            rng = np.random.default_rng([self.seed, self.epoch, position])
            frames = self.read_source(source, random_clip_indices(info.num_frames, self.frames, stride, rng), info)
            return self.transform(frames, torch.Generator().manual_seed(int(rng.integers(2**62))))
        clips = uniform_clip_indices(info.num_frames, self.frames, stride, self.num_clips)
        # One read for all temporal clips: one seek, then forward decoding through them in order.
        frames = self.read_source(source, [i for clip in clips for i in clip], info)
        if self.mode == "val":
            return self.transform(frames)
        per_clip = np.split(frames, len(clips))
        return torch.cat([self.transform.views(clip, self.num_crops) for clip in per_clip])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} clips, {len(self.classes)} classes, mode={self.mode!r}, "
                f"frames={self.frames}, sampling_rate={self.sampling_rate}, {self.transform}, "
                f"skipped={len(self.skipped)})")


class KineticsDataset(ClipDataset):
    """Kinetics from the official CSV (label,youtube_id,time_start,time_end,split), rows of `split` only.

    Videos are <root>/<split>/<label>/<id>_<start:06d>_<end:06d>.mp4 or the same name directly in
    <root>/<split>/. Classes are sorted alphabetically (the official order) unless `label_file` is given.
    """

    COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")

    def __init__(self, root: str | os.PathLike, annotation_csv: str | os.PathLike, split: str, *,
                 label_file: str | os.PathLike | None = None, **knobs):
        root, rows = Path(root), self._read_csv(annotation_csv, split)
        classes = read_labels(label_file) if label_file else sorted({label for _, label, _ in rows})
        index = {name: i for i, name in enumerate(classes)}
        items = []
        for line, label, name in rows:
            if label not in index:
                raise AnnotationError(annotation_csv, line, f"label {label!r} is not in {label_file}")
            per_class = inside_root(root, f"{split}/{label}/{name}", annotation_csv, line)
            flat = root / split / name
            items.append((per_class if per_class.exists() or not flat.exists() else flat, index[label]))
        super().__init__(items, classes, **knobs)

    @classmethod
    def _read_csv(cls, path: str | os.PathLike, split: str) -> list[tuple[int, str, str]]:
        """(line, label, file name) of the rows of `split`."""
        lines = annotation_lines(path)
        rows = list(csv.reader(text for _, text in lines))
        if not rows or tuple(column.strip() for column in rows[0]) != cls.COLUMNS:
            raise AnnotationError(path, 1, f"expected the header {','.join(cls.COLUMNS)}")
        found, splits = [], set()
        for (line, _), row in zip(lines[1:], rows[1:]):
            if len(row) != len(cls.COLUMNS):
                raise AnnotationError(path, line, f"expected {len(cls.COLUMNS)} fields, got {len(row)}")
            label, youtube_id, start, end, row_split = (field.strip() for field in row)
            splits.add(row_split)
            if row_split != split:
                continue
            try:
                name = f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}.mp4"
            except ValueError:
                raise AnnotationError(path, line, f"time_start/time_end must be numbers, got {start!r}, {end!r}") from None
            if os.sep in youtube_id or "/" in youtube_id or youtube_id in ("", ".", ".."):
                raise AnnotationError(path, line, f"youtube_id {youtube_id!r} points outside the dataset root")
            found.append((line, label, name))
        if not found:
            raise AnnotationError(path, None, f"no rows of split {split!r} (splits present: {sorted(splits)})")
        return found


class UCF101Dataset(ClipDataset):
    """UCF-101 with the official splits: classInd.txt, trainlist0N.txt (path and 1-based label) and
    testlist0N.txt (path only; the label is its folder). Videos are <root>/<Class>/<name>.avi."""

    def __init__(self, root: str | os.PathLike, splits_dir: str | os.PathLike, split: int = 1,
                 train: bool = True, **knobs):
        root, splits_dir = Path(root), Path(splits_dir)
        classes = self._read_class_index(splits_dir / "classInd.txt")
        by_folder = {name.lower(): i for i, name in enumerate(classes)}
        list_file = splits_dir / f"{'train' if train else 'test'}list{split:02d}.txt"
        items = []
        for line, text in annotation_lines(list_file):
            relative, *label_field = text.split()
            path = inside_root(root, relative, list_file, line)
            if label_field:
                label = _one_based_label(label_field[0], len(classes), list_file, line) - 1
            else:
                folder = Path(relative).parts[0].lower()
                if folder not in by_folder:
                    raise AnnotationError(list_file, line, f"folder {Path(relative).parts[0]!r} is not a class "
                                                           f"of {splits_dir / 'classInd.txt'}")
                label = by_folder[folder]
            items.append((path, label))
        super().__init__(items, classes, **knobs)

    @staticmethod
    def _read_class_index(path: Path) -> list[str]:
        """Class names ordered by their 1-based ids ("1 ApplyEyeMakeup")."""
        entries = {}
        for line, text in annotation_lines(path):
            fields = text.split()
            if len(fields) != 2 or not fields[0].isdigit():
                raise AnnotationError(path, line, f"expected '<id> <class name>', got {text!r}")
            entries[int(fields[0])] = fields[1]
        if sorted(entries) != list(range(1, len(entries) + 1)):
            raise AnnotationError(path, None, f"class ids must be 1..{len(entries)} without gaps")
        return [entries[i] for i in range(1, len(entries) + 1)]


class HMDB51Dataset(ClipDataset):
    """HMDB51 with the official split files <class>_test_split<N>.txt ("<video>.avi <0|1|2>":
    1 train, 2 test, 0 unused); videos are <root>/<class>/<video>.avi; classes sorted by name."""

    def __init__(self, root: str | os.PathLike, splits_dir: str | os.PathLike, split: int = 1,
                 train: bool = True, **knobs):
        root, splits_dir = Path(root), Path(splits_dir)
        suffix = f"_test_split{split}.txt"
        split_files = sorted(splits_dir.glob(f"*{suffix}"))
        if not split_files:
            raise AnnotationError(splits_dir, None, f"no split files *{suffix} found")
        classes = [path.name.removesuffix(suffix) for path in split_files]
        wanted = "1" if train else "2"
        items = []
        for label, (name, split_file) in enumerate(zip(classes, split_files)):
            for line, text in annotation_lines(split_file):
                fields = text.split()
                if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                    raise AnnotationError(split_file, line, f"expected '<video> <0|1|2>', got {text!r}")
                if fields[1] == wanted:
                    items.append((inside_root(root, f"{name}/{fields[0]}", split_file, line), label))
        super().__init__(items, classes, **knobs)


class RawFramesDataset(ClipDataset):
    """Clips stored as image files. Annotation lines:
    `<rel_dir> <label_id> <start_video_frame> <end_video_frame> <start_clip_frame> <end_clip_frame> <fps>`
    (frame numbers inclusive, as in the file names). Clips are sampled from the clip frames.
    Classes come from `label_file`, else are named class_<id>."""

    def __init__(self, root: str | os.PathLike, annotation_file: str | os.PathLike,
                 template: str = "img_{:05d}.jpg", *, label_file: str | os.PathLike | None = None, **knobs):
        root = Path(root)
        rows = [self._parse(root, annotation_file, line, text, template)
                for line, text in annotation_lines(annotation_file)]
        if label_file:
            classes = read_labels(label_file)
        else:
            classes = [f"class_{i}" for i in range(max(label for _, label, _ in rows) + 1)]
        for line, label, _ in rows:
            if label >= len(classes):
                raise AnnotationError(annotation_file, line, f"label id {label} out of range 0..{len(classes) - 1} "
                                                             f"({len(classes)} classes in {label_file})")
        super().__init__([(folder, label) for _, label, folder in rows], classes, **knobs)

    @staticmethod
    def _parse(root: Path, file, line: int, text: str, template: str) -> tuple[int, int, FrameFolder]:
        fields = text.split()
        if len(fields) != 7:
            raise AnnotationError(file, line, f"expected 7 fields (rel_dir label_id start_video_frame "
                                              f"end_video_frame start_clip_frame end_clip_frame fps), got {len(fields)}")
        try:
            label, video_start, video_end, clip_start, clip_end = (int(f) for f in fields[1:6])
            fps = float(fields[6])
        except ValueError:
            raise AnnotationError(file, line, f"label, frame numbers and fps must be numbers: {text!r}") from None
        if label < 0:
            raise AnnotationError(file, line, f"label id {label} out of range (negative)")
        if not video_start <= clip_start <= clip_end <= video_end or fps <= 0:
            raise AnnotationError(file, line, "need start_video <= start_clip <= end_clip <= end_video and fps > 0, "
                                              f"got {video_start} {clip_start} {clip_end} {video_end} fps {fps}")
        folder = inside_root(root, fields[0], file, line)
        return line, label, FrameFolder(folder, clip_start, clip_end - clip_start + 1, fps, template)

    def probe_source(self, source: FrameFolder) -> VideoInfo:
        for index in (source.count - 1, 0):
            if not source.frame_path(index).is_file():
                raise VideoError(source.frame_path(index), "frame image not found")
        height, width = _read_image(source.frame_path(0)).shape[:2]
        return VideoInfo(source.fps, source.count, source.count / source.fps, width, height,
                         Path(source.template).suffix.lstrip(".") or "frames")

    def read_source(self, source: FrameFolder, indices: list[int], info: VideoInfo) -> np.ndarray:
        cache: dict[int, np.ndarray] = {}
        for index in indices:
            if index not in cache:
                cache[index] = _read_image(source.frame_path(min(max(index, 0), source.count - 1)))
        return np.stack([cache[i] for i in indices])


class VideoFolderDataset(ClipDataset):
    """A folder of class sub-folders holding videos; classes are the sub-folder names, sorted."""

    def __init__(self, root: str | os.PathLike, *, extensions: Sequence[str] = VIDEO_EXTENSIONS, **knobs):
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"video folder not found: {root}")
        classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
        items = [(path, label) for label, name in enumerate(classes) for path in sorted((root / name).iterdir())
                 if path.is_file() and path.suffix.lower() in extensions]
        if not items:
            raise ValueError(f"no videos ({', '.join(extensions)}) in the class folders of {root}")
        super().__init__(items, classes, **knobs)


def _one_based_label(text: str, num_classes: int, file, line: int) -> int:
    """An integer label id in 1 .. num_classes, or an error naming the line."""
    try:
        value = int(text)
    except ValueError:
        raise AnnotationError(file, line, f"label id {text!r} is not an integer") from None
    if not 1 <= value <= num_classes:
        raise AnnotationError(file, line, f"label id {value} out of range 1..{num_classes}")
    return value


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise VideoError(path, "cannot read frame image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
