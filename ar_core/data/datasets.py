"""Video classification datasets, read as the tools that prepare them write them:

- `KineticsDataset`: the official CSV (SlowFast), MindSpore's `<split>/<id>.mp4` + `kinetics-400_<split>.csv`,
  OpenDR's `data/<split>/<label>/<id>.mp4` + `splits/<split>.json`;
- `UCF101Dataset`, `HMDB51Dataset`: the official split files;
- `ListDataset` (`RawFramesDataset`): mmaction2 lists (`<video> <label>`, `<rawframe_dir> <num_frames> <label>`)
  and OTE's 7-field rawframe lines, the kind detected per line; several (root, list) pairs make one split;
- `CvatDataset` (cvat.py): OTX's CVAT layout, `<root>/Video_N/annotations.xml` + `images/`, per-frame labels;
- `VideoFolderDataset`: class folders of videos.

Frame folders (`FrameFolder`) have their file names detected (`img_00001.jpg`, `00001.jpg`, `frame_000001.png`,
...) by `detect_frame_template`, the one place that knows frame names. All share `ClipDataset`: every video or
frame folder is probed once at construction (unreadable ones are skipped and listed in `skipped`), and
`__getitem__` returns (clip (3, T, S, S), label) in "train"/"val" mode or (views (num_clips * num_crops, 3, T, S,
S), label) in "test" mode, normalised with mean/std.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..labels import read_labels
from ..models.specs import KINETICS_MEAN, KINETICS_STD, RECIPE_FPS, ModelSpec
from .sampling import random_clip_indices, stride_for_fps, uniform_clip_indices
from .transforms import ClipTransform
from .video import VideoError, VideoInfo, probe, read_frames

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
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
    """A clip stored as numbered images: frames first .. first + count - 1 of `folder` (template "": none found)."""

    folder: Path
    first: int
    count: int
    fps: float
    template: str

    def frame_path(self, index: int) -> Path:
        return self.folder / self.template.format(self.first + index)

    def __str__(self) -> str:
        return str(self.folder)


_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")


def detect_frame_template(folder: str | os.PathLike) -> tuple[str, list[int]]:
    """(template, sorted frame numbers) of the numbered images in `folder`, e.g. ("img_{:05d}.jpg", [1, 2, ...]).

    Names are grouped by what surrounds the number; the largest group wins (optical-flow `flow_*` images lose
    ties, as mmaction2's denseflow writes them beside `img_*`). The zero padding is the shortest number's width
    ({:d} when unpadded). ("", []) when the folder holds no numbered image.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _NUMBERED.match(entry.name)
            if match and match[3].lower() in FRAME_EXTENSIONS and entry.is_file():
                groups.setdefault((match[1], match[3]), []).append(match[2])
    if not groups:
        return "", []
    (prefix, suffix), digits = max(groups.items(), key=lambda g: (len(g[1]), "flow" not in g[0][0], g[0]))
    width = min(len(d) for d in digits)
    numbers = sorted(int(d) for d in digits)
    if not all(len(d) == width or not d.startswith("0") for d in digits):
        raise ValueError(f"{folder}: frame names {prefix}<n>{suffix} mix zero-paddings")
    number = "{:d}" if width == 1 else f"{{:0{width}d}}"
    escape = lambda text: text.replace("{", "{{").replace("}", "}}")  # noqa: E731
    return escape(prefix) + number + escape(suffix), numbers


def describe_numbers(numbers: Sequence[int], most: int = 8) -> str:
    """7, 9-11, 20: runs of consecutive numbers, for messages (the first `most` runs)."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:most])
    return text + (f", ... ({len(numbers)} in all)" if len(runs) > most else "")


def frame_folder(folder: Path, fps: float = RECIPE_FPS, template: str = "", first: int | None = None,
                 count: int | None = None) -> FrameFolder:
    """The frames of `folder`, named by `template` or, when it is "", by the detected one.

    first: the first frame number (default: the lowest found; 1 with an explicit template, mmaction2's
    start_index); count: frames from there (default: through the highest found). With detection, a gap in
    first .. first + count - 1 raises ValueError naming the missing frames; a folder without numbered images gives
    a FrameFolder with template "" that the probe reports (the item is skipped, like an unreadable video).
    """
    if template:
        return FrameFolder(folder, 1 if first is None else first, count or 0, fps, template)
    if not folder.is_dir():
        return FrameFolder(folder, first or 1, count or 0, fps, "")
    found, numbers = detect_frame_template(folder)
    if not numbers:
        return FrameFolder(folder, first or 1, count or 0, fps, "")
    first = numbers[0] if first is None else first
    count = numbers[-1] - first + 1 if count is None else count
    missing = sorted(set(range(first, first + count)) - set(numbers))
    if missing:
        raise ValueError(f"frame folder {folder}: frames {describe_numbers(missing)} of {found} are missing "
                         f"(need {first}..{first + count - 1}; found {describe_numbers(numbers, 3)})")
    return FrameFolder(folder, first, count, fps, found)


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
        # source -> the label of each of its frames, for layouts whose labels change within an item (cvat)
        self.per_frame_labels: dict[Source, np.ndarray] = {}

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

    def frame_labels(self, index: int) -> np.ndarray | None:
        """The label of each frame item `index` covers (int64, -1 where a frame has none), or None when one label
        covers them all; the item's label (`self[index][1]`) is then the majority of these."""
        return self.per_frame_labels.get(self.samples[index][0])

    def probe_source(self, source: Source) -> VideoInfo:
        if not isinstance(source, FrameFolder):
            return probe(source)
        if not source.template:
            raise VideoError(source, "frame image not found (no numbered images in the folder)")
        if source.count < 1:
            raise VideoError(source, "no frames: give their number (num_frames) or leave frame_template to detection")
        for index in (source.count - 1, 0):
            if not source.frame_path(index).is_file():
                raise VideoError(source.frame_path(index), "frame image not found")
        height, width = _read_image(source.frame_path(0)).shape[:2]
        return VideoInfo(source.fps, source.count, source.count / source.fps, width, height,
                         Path(source.template).suffix.lstrip(".") or "frames")

    def read_source(self, source: Source, indices: list[int], info: VideoInfo) -> np.ndarray:
        if not isinstance(source, FrameFolder):
            return read_frames(source, indices, info)
        cache: dict[int, np.ndarray] = {}
        for index in indices:
            if index not in cache:
                cache[index] = _read_image(source.frame_path(min(max(index, 0), source.count - 1)))
        return np.stack([cache[i] for i in indices])

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
    """Kinetics, rows of `split` only, from the annotation file of one of three layouts:

    - the official CSV (label,youtube_id,time_start,time_end[,split][,...]; rows of other splits are dropped),
      videos <root>/<split>/<label>/<id>_<start:06d>_<end:06d>.mp4 or the same name directly in <root>/<split>/;
    - MindSpore's (X3D, mindvideo): the same CSV as <root>/kinetics-400_<split>.csv, videos in <root>/<split>/;
    - OpenDR's (`KineticsDataset(path=..., split=...)`): <root>/splits/<split>.json (split "val" reads
      validate.json; {id: {"annotations": {"label", "segment": [start, end]}, "subset"}}), videos
      <root>/data/<subset>/<label>/<id>_<start>_<end>.mp4.

    With no `annotation_csv`, the MindSpore and OpenDR files under `root` are looked for. Classes are sorted
    alphabetically (the official order) unless `label_file` is given. OpenDR's call works as it is written there,
    `KineticsDataset(path=..., frames_per_clip=4, split="train")` (`temporal_downsampling`: the sampling rate).
    """

    COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")  # split (and any others) optional
    OPENDR_SPLITS = {"val": "validate"}

    def __init__(self, root: str | os.PathLike | None = None, annotation_csv: str | os.PathLike | None = None,
                 split: str = "train", *, label_file: str | os.PathLike | None = None,
                 path: str | os.PathLike | None = None, frames_per_clip: int | None = None,
                 temporal_downsampling: int | None = None, **knobs):
        if (root is None) == (path is None):
            raise TypeError("KineticsDataset needs the data set folder once: root, or OpenDR's path=")
        for opendr, name, value in (("frames_per_clip", "frames", frames_per_clip),
                                    ("temporal_downsampling", "sampling_rate", temporal_downsampling)):
            if value is not None:
                if name in knobs:
                    raise TypeError(f"KineticsDataset: give {name} or OpenDR's {opendr}, not both")
                knobs[name] = value
        root = Path(root if root is not None else path)
        annotation_csv = Path(annotation_csv) if annotation_csv else self.find_annotations(root, split)
        if annotation_csv.suffix.lower() == ".json":
            rows = self._read_json(annotation_csv, self.OPENDR_SPLITS.get(split, split))
            videos = root / "data" if (root / "data").is_dir() else root
        else:
            rows = [(line, label, name, split) for line, label, name in self._read_csv(annotation_csv, split)]
            videos = root
        classes = read_labels(label_file) if label_file else sorted({label for _, label, _, _ in rows})
        index = {name: i for i, name in enumerate(classes)}
        items = []
        for line, label, name, folder in rows:
            if label not in index:
                raise AnnotationError(annotation_csv, line, f"label {label!r} is not in {label_file}")
            per_class = inside_root(videos, f"{folder}/{label}/{name}", annotation_csv, line)
            flat = videos / folder / name
            items.append((per_class if per_class.exists() or not flat.exists() else flat, index[label]))
        super().__init__(items, classes, **knobs)

    @classmethod
    def find_annotations(cls, root: Path, split: str) -> Path:
        """OpenDR's splits/<split>.json or MindSpore's kinetics-<N>_<split>.csv under `root`."""
        candidates = [root / "splits" / f"{cls.OPENDR_SPLITS.get(split, split)}.json",
                      *sorted(root.glob(f"kinetics-*_{split}.csv"))]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise AnnotationError(root, None, f"no annotations given and none found for split {split!r}: looked for "
                                          f"{candidates[0]} (OpenDR) and kinetics-400_{split}.csv (MindSpore)")

    @classmethod
    def _read_csv(cls, path: str | os.PathLike, split: str) -> list[tuple[int, str, str]]:
        """(line, label, file name) of the rows of `split` (all rows when the CSV has no split column)."""
        lines = annotation_lines(path)
        rows = list(csv.reader(text for _, text in lines))
        header = [column.strip() for column in rows[0]] if rows else []
        if not set(cls.COLUMNS[:4]) <= set(header):
            raise AnnotationError(path, 1, f"expected the header {','.join(cls.COLUMNS)} (split optional), "
                                           f"got {','.join(header)}")
        found, splits = [], set()
        for (line, _), row in zip(lines[1:], rows[1:]):
            if len(row) != len(header):
                raise AnnotationError(path, line, f"expected {len(header)} fields, got {len(row)}")
            fields = dict(zip(header, (field.strip() for field in row)))
            row_split = fields.get("split", split)
            splits.add(row_split)
            if row_split != split:
                continue
            found.append((line, fields["label"], cls._file_name(path, line, fields["youtube_id"],
                                                                 fields["time_start"], fields["time_end"])))
        if not found:
            raise AnnotationError(path, None, f"no rows of split {split!r} (splits present: {sorted(splits)})")
        return found

    @classmethod
    def _read_json(cls, path: Path, split: str) -> list[tuple[None, str, str, str]]:
        """(None, label, file name, subset folder) of OpenDR's split JSON entries whose subset is `split`."""
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise AnnotationError(path, None, f"not a readable JSON file ({err})") from None
        if not isinstance(entries, dict):
            raise AnnotationError(path, None, "expected an object of video id -> {annotations, subset}")
        found = []
        for key, entry in entries.items():
            try:
                subset, label = entry["subset"], entry["annotations"]["label"]
                start, end = entry["annotations"]["segment"]
            except (KeyError, TypeError, ValueError):
                raise AnnotationError(path, None, f"entry {key!r}: expected {{\"annotations\": {{\"label\": ..., "
                                                  f"\"segment\": [start, end]}}, \"subset\": ...}}") from None
            if subset == split:
                found.append((None, str(label), cls._file_name(path, None, key, start, end, f"entry {key!r}: "),
                              subset))
        if not found:
            raise AnnotationError(path, None, f"no entries of subset {split!r}")
        return found

    @staticmethod
    def _file_name(path, line: int | None, youtube_id: str, start, end, where: str = "") -> str:
        """<id>_<start:06d>_<end:06d>.mp4, refusing ids that would leave the folder."""
        try:
            name = f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}.mp4"
        except ValueError:
            raise AnnotationError(path, line, f"{where}time_start/time_end must be numbers, got {start!r}, "
                                              f"{end!r}") from None
        if os.sep in youtube_id or "/" in youtube_id or youtube_id in ("", ".", ".."):
            raise AnnotationError(path, line, f"{where}youtube_id {youtube_id!r} points outside the dataset root")
        return name


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


LIST_LINES = {
    7: "OTE rawframes: rel_dir label_id start_video_frame end_video_frame start_clip_frame end_clip_frame fps",
    3: "mmaction2 rawframes: rawframe_dir num_frames label",
    2: "mmaction2 videos: video label",
}


def as_paths(value: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """One path, a sequence of them or a comma-separated string of them, as a list (blanks dropped)."""
    if isinstance(value, os.PathLike):
        return [Path(value)]
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [Path(part.strip()) for part in parts if part.strip()]


def paired(roots: Sequence[Path], files: Sequence[Path], what: str = "annotation files") -> list[tuple[Path, Path]]:
    """(root, file) pairs by position; one root serves every file. Differing counts are an error."""
    if len(roots) == 1 and files:
        roots = list(roots) * len(files)
    if len(roots) != len(files) or not files:
        raise ValueError(f"{len(files)} {what} but {len(roots)} data roots: they are paired by position "
                         f"({', '.join(map(str, files))} | {', '.join(map(str, roots))})")
    return list(zip(roots, files))


@dataclass(frozen=True)
class ListItem:
    """One parsed list line: a video (fps 0) or a frame folder to resolve."""

    file: Path
    line: int
    label: int
    path: Path
    first: int | None = None
    count: int | None = None
    fps: float = 0.0


class ListDataset(ClipDataset):
    """Videos or frame folders listed one a line, the kind of each line told by its fields:

    - `<video> <label>` (mmaction2 `*_videos.txt`, e.g. hmdb51_train_split_1_videos.txt; SlowFast's csv);
    - `<rawframe_dir> <num_frames> <label>` (mmaction2 `*_rawframes.txt`; frames from the lowest number found);
    - `<rel_dir> <label_id> <start_video_frame> <end_video_frame> <start_clip_frame> <end_clip_frame> <fps>` (OTE;
      frame numbers inclusive, as in the file names; clips are sampled from the clip frames).

    Labels are 0-based class ids. `root` and `annotation_file` may each be several (a sequence or a comma-separated
    string), paired by position (one root serves all files), as OTE's train.py takes them; their items make one
    data set. Frame names are detected (`detect_frame_template`) unless `template` is given; frame folders
    without an fps field are taken at `fps`. Classes come from `label_file`, else `classes`, else are named
    class_<id> up to the highest id listed (`list_classes`, which build_dataset gives training and validation alike).
    """

    def __init__(self, root: str | os.PathLike | Sequence[str | os.PathLike],
                 annotation_file: str | os.PathLike | Sequence[str | os.PathLike], template: str = "", *,
                 label_file: str | os.PathLike | None = None, classes: Sequence[str] | None = None,
                 fps: float = RECIPE_FPS, **knobs):
        rows = []
        for folder, file in paired(as_paths(root), as_paths(annotation_file)):
            lines = annotation_lines(file)
            if not lines:
                raise AnnotationError(file, None, "no lines")
            rows += [self._parse(folder, file, line, text, fps) for line, text in lines]
        classes = read_labels(label_file) if label_file else list(classes or _class_names(r.label for r in rows))
        for row in rows:
            if row.label >= len(classes):
                raise AnnotationError(row.file, row.line, f"label id {row.label} out of range 0..{len(classes) - 1} "
                                                          f"({len(classes)} classes in {label_file or 'classes'})")

        def source(row: ListItem) -> Source:
            if row.fps == 0:
                return row.path
            try:
                return frame_folder(row.path, row.fps, template, row.first, row.count)
            except ValueError as err:
                raise AnnotationError(row.file, row.line, str(err)) from None

        # Detecting frame names lists each folder: mostly waiting on the disk, so threads help.
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            sources = list(pool.map(source, rows))
        super().__init__([(s, row.label) for s, row in zip(sources, rows)], classes, **knobs)

    @staticmethod
    def _parse(root: Path, file: Path, line: int, text: str, fps: float) -> ListItem:
        fields = text.split()
        if len(fields) not in LIST_LINES:
            kinds = "; ".join(f"{n} ({kind})" for n, kind in LIST_LINES.items())
            hint = ": the path or the label is missing" if len(fields) == 1 else ""
            raise AnnotationError(file, line, f"expected 7 fields, 3 or 2: {kinds}; got {len(fields)}{hint}")
        path = inside_root(root, fields[0], file, line)
        if len(fields) == 2:
            return ListItem(file, line, list_label(fields[1], file, line), path)
        if len(fields) == 3:
            if not fields[1].isdigit() or int(fields[1]) < 1:
                raise AnnotationError(file, line, f"num_frames {fields[1]!r} is not a positive integer")
            return ListItem(file, line, list_label(fields[2], file, line), path, None, int(fields[1]), fps)
        try:
            video_start, video_end, clip_start, clip_end = (int(f) for f in fields[2:6])
            clip_fps = float(fields[6])
        except ValueError:
            raise AnnotationError(file, line, f"label, frame numbers and fps must be numbers: {text!r}") from None
        label = list_label(fields[1], file, line)
        if not video_start <= clip_start <= clip_end <= video_end or clip_fps <= 0:
            raise AnnotationError(file, line, "need start_video <= start_clip <= end_clip <= end_video and fps > 0, "
                                              f"got {video_start} {clip_start} {clip_end} {video_end} fps {clip_fps}")
        return ListItem(file, line, label, path, clip_start, clip_end - clip_start + 1, clip_fps)


def _class_names(labels: Iterable[int]) -> list[str]:
    return [f"class_{i}" for i in range(max(labels) + 1)]


def list_classes(annotation_files: Sequence[str | os.PathLike]) -> list[str]:
    """class_0 .. class_<the highest label id> of all these lists: one class set for training and validation."""
    return _class_names(ListDataset._parse(Path("."), Path(file), line, text, RECIPE_FPS).label
                        for file in annotation_files for line, text in annotation_lines(file))


RawFramesDataset = ListDataset  # `--dataset rawframes`: the same lists (it first read OTE's 7-field lines only)


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


def list_label(text: str, file, line: int, classes: Sequence[str] | None = None) -> int:
    """A 0-based integer class id (mmaction2, OTE), or with `classes` also a class name, checked against them;
    else an error naming the line."""
    if classes and text in classes:
        return list(classes).index(text)
    try:
        value = int(text)
    except ValueError:
        named = f" nor a class of the labels file ({', '.join(list(classes)[:5])}, ...)" if classes else ""
        raise AnnotationError(file, line, f"label {text!r} is not a 0-based integer (a class id){named}") from None
    if value < 0 or (classes and value >= len(classes)):
        limit = f"0..{len(classes) - 1}" if classes else "(negative)"
        raise AnnotationError(file, line, f"label id {value} out of range {limit}")
    return value


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
