"""The CVAT video-classification layout that OTX converts public data to (convert_public_data_to_cvat.py):

    <root>/Video_0/annotations.xml    <meta><task><labels><label><name>walk</name></label>...</labels>
              /images/00001.jpg ...   <image id="0" name="00001.jpg"><tag label="walk"/></image> ...
                                      <track id="0" label="walk"><box frame="3" outside="0" .../>...</track>

Each `Video_N` folder is one item; its frames are images/ (names detected, `detect_frame_template`). Labels come
per frame from `<tag>`s (of an `<image>`, or `<tag frame=...>` at the top level) and from `<track>`s: a track
labels the frames from each of its shapes with outside="0" up to its next shape (the last shape labels its own
frame only). A frame with several labels takes the most common (ties: the lower class id); the item's label is
the most common over its labelled frames, and `CvatDataset.frame_labels(index)` gives each frame's (-1: none).
"""
from __future__ import annotations

import os
import re
import xml.parsers.expat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..labels import read_labels
from ..models.specs import RECIPE_FPS
from .datasets import AnnotationError, ClipDataset, FrameFolder, as_paths, describe_numbers, frame_folder

ANNOTATIONS = "annotations.xml"
SHAPES = ("box", "polygon", "polyline", "points", "ellipse", "cuboid", "skeleton", "mask")


@dataclass
class CvatVideo:
    """One parsed Video_N folder: its frames and the label names on each frame."""

    xml: Path
    frames: FrameFolder
    declared: list[str]  # the label set of the XML's <labels>
    frame_names: list[list[str]] = field(default_factory=list)  # per frame, the label names on it


def _element(name: str, attrs: dict[str, str]) -> str:
    shown = " ".join(f'{key}="{attrs[key]}"' for key in ("id", "name", "frame", "label") if key in attrs)
    return f"<{name}{' ' + shown if shown else ''}>"


def read_cvat_video(folder: Path, template: str = "", fps: float = RECIPE_FPS) -> CvatVideo:
    """Parse `folder`/annotations.xml against `folder`/images; errors name the XML file, line and element."""
    xml_path = folder / ANNOTATIONS
    images_dir = folder / "images" if (folder / "images").is_dir() else folder
    declared: list[str] = []
    images: dict[int, tuple[str, int]] = {}  # id -> (name, line)
    used: list[tuple[int, str, int, str]] = []  # (frame, label, line, element) of tags
    tracks: list[tuple[str, int, str, list[tuple[int, bool, int, str]]]] = []  # label, line, element, shapes
    stack: list[str] = []
    text: list[str] = []
    image_id: list[int] = []
    parser = xml.parsers.expat.ParserCreate()

    def error(reason: str) -> AnnotationError:
        return AnnotationError(xml_path, parser.CurrentLineNumber, reason)

    def number(attrs: dict[str, str], key: str, name: str) -> int:
        try:
            return int(attrs[key])
        except (KeyError, ValueError):
            raise error(f"{_element(name, attrs)}: needs an integer {key}") from None

    def start(name: str, attrs: dict[str, str]) -> None:
        parent = stack[-1] if stack else ""
        stack.append(name)
        text.clear()
        line, element = parser.CurrentLineNumber, _element(name, attrs)
        if name == "image":
            frame = number(attrs, "id", name)
            if frame in images:
                raise error(f"{element}: a second <image> with id {frame}")
            images[frame] = (attrs.get("name", ""), line)
            image_id.append(frame)
        elif name == "tag" and parent == "image":
            used.append((image_id[-1], attrs.get("label", ""), line, element))
        elif name == "tag" and parent == "annotations":
            used.append((number(attrs, "frame", name), attrs.get("label", ""), line, element))
        elif name == "track":
            tracks.append((attrs.get("label", ""), line, element, []))
        elif name in SHAPES and parent == "track":
            tracks[-1][3].append((number(attrs, "frame", name), attrs.get("outside", "0") == "1", line, element))
        elif name in SHAPES and parent == "image":
            used.append((image_id[-1], attrs.get("label", ""), line, element))

    def end(name: str) -> None:
        if name == "name" and stack[-3:-1] == ["labels", "label"]:
            declared.append("".join(text).strip())
        stack.pop()

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = text.append
    if not xml_path.is_file():
        raise AnnotationError(xml_path, None, "annotation file not found")
    try:
        with open(xml_path, "rb") as stream:
            parser.ParseFile(stream)
    except xml.parsers.expat.ExpatError as err:
        reason = xml.parsers.expat.errors.messages[err.code]
        raise AnnotationError(xml_path, err.lineno, f"not well-formed XML ({reason})") from None
    if not declared:
        raise AnnotationError(xml_path, None, "no <labels><label><name> in <meta>: the label set is missing")

    try:
        frames = frame_folder(images_dir, fps, template, count=len(images) or None)
    except ValueError as err:
        raise AnnotationError(xml_path, None, str(err)) from None
    if not frames.template:
        raise AnnotationError(xml_path, None, f"no numbered frame images in {images_dir}")
    if images:
        missing, extra = sorted(set(range(len(images))) - set(images)), sorted(set(images) - set(range(len(images))))
        if missing:
            raise AnnotationError(xml_path, None, f"<image> elements of frames {describe_numbers(missing)} are "
                                                  f"missing (the {len(images)} ids must run 0..{len(images) - 1}; "
                                                  f"found {describe_numbers(extra)} beyond)")
        for frame, (name, line) in sorted(images.items()):
            if not (images_dir / name).is_file():
                raise AnnotationError(xml_path, line, f'<image id="{frame}" name="{name}">: frame file not found '
                                                      f"in {images_dir}")
        for frame, (name, line) in sorted(images.items()):
            if Path(name).name != frames.frame_path(frame).name:
                raise AnnotationError(xml_path, line, f'<image id="{frame}" name="{name}">: expected '
                                                      f"{frames.frame_path(frame).name} (the folder's numbering)")
    count = frames.count
    per_frame: list[list[str]] = [[] for _ in range(count)]

    def check(frame: int, label: str, line: int, element: str) -> None:
        if label not in declared:
            raise AnnotationError(xml_path, line, f"{element}: label {label!r} is not declared in <labels> "
                                                  f"({', '.join(declared)})")
        if not 0 <= frame < count:
            raise AnnotationError(xml_path, line, f"{element}: frame {frame} is not among the {count} frames "
                                                  f"(0..{count - 1}) of {images_dir}")

    for frame, label, line, element in used:
        check(frame, label, line, element)
        per_frame[frame].append(label)
    for label, line, element, shapes in tracks:
        shapes.sort()
        for frame, _, shape_line, shape_element in shapes:
            check(frame, label, shape_line, f"{shape_element} of {element}")
        for i, (frame, outside, _, _) in enumerate(shapes):
            if not outside:
                stop = shapes[i + 1][0] if i + 1 < len(shapes) else frame + 1
                for covered in range(frame, stop):
                    per_frame[covered].append(label)
    return CvatVideo(xml_path, frames, declared, per_frame)


def video_folders(root: Path) -> list[Path]:
    """The Video_N folders (any holding annotations.xml) of `root` in natural order; root itself if it is one."""
    if (root / ANNOTATIONS).is_file():
        return [root]
    if not root.is_dir():
        raise ValueError(f"cvat data root not found: {root}")
    key = lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]  # noqa: E731
    folders = sorted((entry for entry in root.iterdir() if (entry / ANNOTATIONS).is_file()), key=key)
    if not folders:
        raise ValueError(f"no <video folder>/{ANNOTATIONS} in {root} (the CVAT layout OTX converts data to)")
    return folders


def _majority(labels: Sequence[int]) -> int:
    """The most common label, ties going to the lower class id; -1 for none."""
    if not labels:
        return -1
    counts = Counter(labels)
    return min(counts, key=lambda label: (-counts[label], label))


def cvat_classes(roots: Sequence[str | os.PathLike], template: str = "") -> list[str]:
    """The union of the label sets the XMLs under `roots` declare, sorted: one class set for training and
    validation."""
    return sorted({name for base in roots for folder in video_folders(Path(base))
                   for name in read_cvat_video(folder, template).declared})


class CvatDataset(ClipDataset):
    """Every Video_N folder of one or more roots (a sequence or a comma-separated string), one item each.

    Classes: `label_file` if given, else `classes`, else the union of the XMLs' declared label sets, sorted.
    """

    def __init__(self, root: str | os.PathLike | Sequence[str | os.PathLike], *,
                 label_file: str | os.PathLike | None = None, classes: Sequence[str] | None = None,
                 template: str = "", fps: float = RECIPE_FPS, **knobs):
        videos = [read_cvat_video(folder, template, fps) for base in as_paths(root) for folder in video_folders(base)]
        classes = (read_labels(label_file) if label_file else
                   list(classes or sorted({name for v in videos for name in v.declared})))
        index = {name: i for i, name in enumerate(classes)}
        items, per_frame = [], {}
        for video in videos:
            unknown = sorted({name for names in video.frame_names for name in names} - set(index))
            if unknown:
                raise AnnotationError(video.xml, None, f"label(s) {', '.join(map(repr, unknown))} are not in "
                                                       f"{label_file or 'classes'}")
            labels = np.array([_majority([index[name] for name in names]) for names in video.frame_names], np.int64)
            if (labels < 0).all():
                raise AnnotationError(video.xml, None, "no <tag> or <track> labels any frame")
            items.append((video.frames, _majority(labels[labels >= 0].tolist())))
            if len(set(labels.tolist())) > 1:
                per_frame[video.frames] = labels
        super().__init__(items, classes, **knobs)
        self.per_frame_labels = per_frame
