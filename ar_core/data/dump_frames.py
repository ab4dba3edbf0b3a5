"""`ar-core dump-frames`: videos and a `<video> <label>` list into rawframes and OTE's 7-field annotation file,

    OUT/<video path without its suffix>/img_00001.jpg ...
    <rel_dir> <label_id> <start_video_frame> <end_video_frame> <start_clip_frame> <end_clip_frame> <fps>

which `RawFramesDataset` (`--dataset rawframes`) reads back. Videos are dumped in parallel processes; each one's
frames go into a hidden sibling folder that is renamed into place when the video is done, so a finished folder
is complete and a second run skips it (resumable). A video that cannot be decoded is listed, and the run goes on.
"""
from __future__ import annotations

import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from ..atomic import atomic_path
from ..labels import read_labels
from .datasets import AnnotationError, annotation_lines, inside_root, list_label
from .video import VideoError, frame_to_rgb, iter_frames, probe

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "img_{:05d}.jpg"  # RawFramesDataset's default; frame numbers start at 1
FIRST_FRAME = 1


@dataclass(frozen=True)
class VideoItem:
    """One line of the video list: the video, its label id and the frame folder (relative to the output)."""

    line: int
    video: Path
    label: int
    rel_dir: str


@dataclass(frozen=True)
class Dumped:
    """A finished frame folder: frames FIRST_FRAME .. FIRST_FRAME + count - 1 at `fps`."""

    rel_dir: str
    label: int
    count: int
    fps: float

    def annotation_line(self) -> str:
        last = FIRST_FRAME + self.count - 1
        return f"{self.rel_dir} {self.label} {FIRST_FRAME} {last} {FIRST_FRAME} {last} {self.fps:g}"


@dataclass
class DumpResult:
    annotations: Path
    dumped: list[str] = field(default_factory=list)  # videos whose frames this run wrote
    skipped: list[str] = field(default_factory=list)  # videos whose folder a previous run finished
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video, reason), in list order


def read_video_list(list_file: str | os.PathLike, video_root: str | os.PathLike | None = None,
                    labels: list[str] | None = None) -> list[VideoItem]:
    """The `<video> <label>` lines of an mmaction2 video list (0-based integer labels; with `labels`, a class
    name is accepted too). Paths are relative to `video_root` (default: the list's folder)."""
    list_file = Path(list_file)
    root = Path(video_root) if video_root else list_file.parent
    items, seen = [], {}
    for line, text in annotation_lines(list_file):
        relative, _, label_text = text.rpartition(" ")
        relative = relative.strip()
        if not relative:
            raise AnnotationError(list_file, line, f"expected '<video> <label>', got {text!r}")
        label = list_label(label_text, list_file, line, labels)
        video = inside_root(root, relative, list_file, line)
        rel_dir = Path(os.path.normpath(relative)).with_suffix("").as_posix()
        if rel_dir in seen:
            raise AnnotationError(list_file, line, f"{relative!r} would share the frame folder {rel_dir!r} with "
                                                   f"line {seen[rel_dir]}")
        seen[rel_dir] = line
        items.append(VideoItem(line, video, label, rel_dir))
    if not items:
        raise AnnotationError(list_file, None, "no videos listed")
    return items


def dump_frames(list_file: str | os.PathLike, out_dir: str | os.PathLike, *,
                video_root: str | os.PathLike | None = None, annotations: str | os.PathLike | None = None,
                labels: str | os.PathLike | None = None, frame_template: str = DEFAULT_TEMPLATE,
                short_side: int = 0, jobs: int | None = None, progress: bool = True) -> DumpResult:
    """Dump every listed video (skipping finished folders) and write the annotation file of those that have
    frames, in list order (default: OUT/<list stem>_rawframes.txt)."""
    from tqdm import tqdm

    _check_template(frame_template)
    items = read_video_list(list_file, video_root, read_labels(labels) if labels else None)
    out_dir = Path(out_dir)
    result = DumpResult(Path(annotations) if annotations else out_dir / f"{Path(list_file).stem}_rawframes.txt")
    done: dict[int, Dumped] = {}
    todo = []
    for item in items:
        folder = out_dir / item.rel_dir
        if folder.is_dir():
            try:
                done[item.line] = _finished(item, folder, frame_template)
                result.skipped.append(str(item.video))
                continue
            except VideoError as err:
                result.failed.append((str(item.video), err.reason))
                continue
        todo.append(item)
    errors: dict[int, str] = {}
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, min(jobs or os.cpu_count() or 1, len(todo)))) as pool:
            futures = {pool.submit(_dump_in_worker, item, out_dir, frame_template, short_side): item
                       for item in todo}
            for future in tqdm(as_completed(futures), total=len(futures), unit="video", desc="dump-frames",
                               disable=None if progress else True):
                item, outcome = futures[future], future.result()
                if isinstance(outcome, Dumped):
                    done[item.line] = outcome
                    result.dumped.append(str(item.video))
                else:
                    errors[item.line] = outcome
                    log.warning("%s: %s", item.video, outcome)
    result.failed += [(str(item.video), errors[item.line]) for item in items if item.line in errors]
    with atomic_path(result.annotations) as tmp:
        tmp.write_text("".join(done[item.line].annotation_line() + "\n" for item in items if item.line in done),
                       encoding="utf-8")
    return result


def dump_video(item: VideoItem, out_dir: Path, frame_template: str = DEFAULT_TEMPLATE,
               short_side: int = 0) -> Dumped:
    """Decode one video into `out_dir/<rel_dir>`: frames written into a hidden sibling, renamed when complete."""
    final = out_dir / item.rel_dir
    partial = final.with_name(f".{final.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a run that was stopped
    partial.mkdir(parents=True)
    try:
        fps, count = probe(item.video).fps, 0
        for _, frame in iter_frames(item.video):
            bgr = cv2.cvtColor(_resized(frame_to_rgb(frame), short_side), cv2.COLOR_RGB2BGR)
            path = partial / frame_template.format(FIRST_FRAME + count)
            if not cv2.imwrite(str(path), bgr):
                raise VideoError(item.video, f"cannot write the frame image {path}")
            count += 1
        if not count:
            raise VideoError(item.video, "no decodable video frame")
        os.rename(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return Dumped(item.rel_dir, item.label, count, fps)


def _dump_in_worker(item: VideoItem, out_dir: Path, frame_template: str, short_side: int) -> Dumped | str:
    """dump_video in a pool process: the reason a video failed comes back as text (VideoError does not pickle)."""
    try:
        return dump_video(item, out_dir, frame_template, short_side)
    except VideoError as err:
        return err.reason


def _finished(item: VideoItem, folder: Path, frame_template: str) -> Dumped:
    """The annotation of a folder a previous run finished: its frames counted, the fps from the video's header."""
    count = 0
    while (folder / frame_template.format(FIRST_FRAME + count)).is_file():
        count += 1
    if not count:
        raise VideoError(folder, f"finished folder holds no {frame_template.format(FIRST_FRAME)}; delete it to "
                                 "dump the video again")
    return Dumped(item.rel_dir, item.label, count, probe(item.video).fps)


def _resized(rgb, short_side: int):
    """The frame scaled so its shorter side is `short_side` (0: as decoded)."""
    height, width = rgb.shape[:2]
    if not short_side or min(height, width) == short_side:
        return rgb
    scale = short_side / min(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _check_template(template: str) -> None:
    try:
        name = template.format(FIRST_FRAME)
    except (IndexError, KeyError, ValueError) as err:
        raise ValueError(f"frame template {template!r} needs one {{}} for the frame number: {err}") from None
    if name == template.format(FIRST_FRAME + 1) or "/" in name:
        raise ValueError(f"frame template {template!r} must put the frame number into a file name")
    if Path(name).suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise ValueError(f"frame template {template!r} must end in .jpg, .jpeg or .png")
