"""Ground truth for a bag: which activity happens when.

    segments:
      - {start: 0.0, end: 4.5, label: "waving hand"}
      - {start: 6.0, end: 9.0, label: "clapping"}

Times are seconds from the bag's first message; segments are in time order and do not overlap; time
outside every segment has no truth. Every error names the file and the YAML line of the segment.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

FIELDS = ("start", "end", "label")


class TruthError(ValueError):
    """A truth file that cannot be used; the message names the file and the line of each problem."""


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the bag's first message
    end: float  # exclusive
    label: str
    line: int  # where the segment is written in the truth file (1-based)

    def contains(self, time_s: float) -> bool:
        return self.start <= time_s < self.end


def read_truth(path: str | os.PathLike, classes: Sequence[str] | None = None) -> list[Segment]:
    """The segments of a truth file, checked (and, given `classes`, their labels checked against them)."""
    path = Path(path)
    if not path.is_file():
        raise TruthError(f"truth file not found: {path}")
    loader = yaml.SafeLoader(path.read_text(encoding="utf-8"))
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise TruthError(f"{path}:{mark.line + 1 if mark else '?'}: not valid YAML ({err})") from None
    finally:
        loader.dispose()
    items = _segment_nodes(path, root, data)
    problems: list[tuple[int, str]] = []  # (line, what is wrong there)
    segments = [segment for node, value in items if (segment := _segment(node, value, problems)) is not None]
    problems += _order_problems(segments)
    if classes is not None:
        known = set(classes)
        problems += [(s.line, f"label {s.label!r} is not a class of the model ({_sample(classes)})")
                     for s in segments if s.label not in known]
    if problems:
        raise TruthError(f"{path}: " + "; ".join(f"line {line}: {text}" for line, text in sorted(problems)))
    return segments


def segment_index(segments: Sequence[Segment], time_s: float) -> int | None:
    """Which segment `time_s` falls in, or None."""
    return next((i for i, s in enumerate(segments) if s.contains(time_s)), None)


def _segment_nodes(path: Path, root, data) -> list[tuple[yaml.Node, object]]:
    """(YAML node, value) of each entry of `segments`, after checking the file's shape."""
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        line = root.start_mark.line + 1 if root is not None else 1
        raise TruthError(f"{path}:{line}: expected a mapping with a list under 'segments', e.g. "
                         f"segments: [{{start: 0.0, end: 4.5, label: waving hand}}]")
    if not data["segments"]:
        raise TruthError(f"{path}: 'segments' is empty")
    sequence = next(value for key, value in root.value if key.value == "segments")
    return list(zip(sequence.value, data["segments"]))


def _segment(node: yaml.Node, value: object, problems: list[tuple[int, str]]) -> Segment | None:
    line = node.start_mark.line + 1
    if not isinstance(value, dict):
        problems.append((line, f"a segment must be a mapping with {', '.join(FIELDS)}, got {value!r}"))
        return None
    missing, unknown = [f for f in FIELDS if f not in value], sorted(set(map(str, value)) - set(FIELDS))
    if missing or unknown:
        problems.append((line, ", ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                         + ([f"unknown field {', '.join(unknown)}"] if unknown else []))))
        return None
    start, end, label = value["start"], value["end"], value["label"]
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in (start, end)):
        problems.append((line, f"start and end must be numbers of seconds, got {start!r} and {end!r}"))
        return None
    if not isinstance(label, str) or not label.strip():
        problems.append((line, f"label must be a class name, got {label!r}"))
        return None
    if not 0 <= start < end:
        problems.append((line, f"need 0 <= start < end, got start {start} and end {end}"))
        return None
    return Segment(float(start), float(end), label, line)


def _order_problems(segments: list[Segment]) -> list[tuple[int, str]]:
    problems = []
    for before, after in zip(segments, segments[1:]):
        if after.start < before.start:
            problems.append((after.line, f"segments must be in time order, but it starts at {after.start}, "
                                         f"before line {before.line} at {before.start}"))
        elif after.start < before.end:
            problems.append((after.line, f"{after.start}-{after.end} overlaps line {before.line} "
                                         f"({before.start}-{before.end})"))
    return problems


def _sample(classes: Sequence[str], shown: int = 8) -> str:
    names = ", ".join(repr(c) for c in list(classes)[:shown])
    return f"classes: {names}" + (f", ... ({len(classes)} in all)" if len(classes) > shown else "")
