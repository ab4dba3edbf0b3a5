"""Real rosbag2 files, truth files and a small X3D-XS model for the bag tests."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ar_core.bags.writer import write_image_bag
from ar_core.data import MOTION_CLASSES, render_motion_frames
from ar_core.models import build_model, get_spec
from ar_core.models.metadata import ModelMetadata

TOPIC = "/camera/image_raw"
FPS = 10.0
START_S = 1000.0  # header stamp of the first frame
DELAY_S = 0.03  # the recorder receives each frame at least this long after its stamp
JITTER_S = 0.04  # and up to this much later still (under a frame period, so bag order is stamp order)
SIZE = 64
CLASSES = list(MOTION_CLASSES[:4])


@dataclass(frozen=True)
class LabelledBag:
    path: Path
    frames: np.ndarray  # (T, H, W, 3) uint8 as recorded
    truth: Path
    segments: list[tuple[float, float, str]]  # (start, end, label) as written in the truth file
    delays: np.ndarray  # (T,) seconds from each frame's stamp to its bag time

    @property
    def stamps(self) -> list[float]:
        return [START_S + i / FPS for i in range(len(self.frames))]

    def time_s(self, stamp: float) -> float:
        """Seconds from the bag's first message to the bag time of the frame stamped `stamp`."""
        i = round((stamp - START_S) * FPS)
        return i / FPS + self.delays[i] - self.delays[0]


def make_model(folder: Path, classes: list[str] = CLASSES, crop: int = SIZE, seed: int = 0) -> Path:
    """Random-init X3D-XS weights with a `classes` head, and the metadata JSON beside them (crop `crop`)."""
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "x3d_xs_motion.pth"
    torch.save(build_model("xs", num_classes=len(classes)).state_dict(), weights)
    ModelMetadata.for_spec(get_spec("xs"), classes, crop=crop).write_json(weights.with_suffix(".json"))
    return weights


def make_labelled_bag(folder: Path, labels: list[int], seconds_each: float = 2.0, storage: str = "sqlite3",
                      compressed: bool = False, name: str = "bag") -> LabelledBag:
    """One motion class after another (indices into CLASSES), each `seconds_each` long, and a truth file
    whose segments cover each class but its first 0.3 s (so some predictions fall outside every segment)."""
    per_class = round(seconds_each * FPS)
    frames = np.concatenate([render_motion_frames(label, per_class, SIZE, FPS, seed=10 + i)
                             for i, label in enumerate(labels)])
    delays = DELAY_S + np.random.default_rng(len(frames)).uniform(0, JITTER_S, len(frames))
    path = write_image_bag(folder / name, frames, TOPIC, storage, compressed, fps=FPS, start_s=START_S,
                           delay_s=delays)
    segments = [(i * seconds_each + 0.3, (i + 1) * seconds_each, CLASSES[label]) for i, label in enumerate(labels)]
    truth = write_truth(folder / f"{name}_truth.yaml", segments)
    return LabelledBag(path, frames, truth, segments, delays)


def write_truth(path: Path, segments: list[tuple[float, float, str]]) -> Path:
    lines = ["# ground truth, seconds from the bag's first message", "segments:"]
    lines += [f'  - {{start: {start}, end: {end}, label: "{label}"}}' for start, end, label in segments]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def storage_file(bag: Path) -> Path:
    (file,) = [p for p in bag.iterdir() if p.suffix in (".db3", ".mcap")]
    return file


def cut(bag: Path, fraction: float) -> None:
    """Keep the first `fraction` of the bag's storage file, as a recorder that died would."""
    file = storage_file(bag)
    file.write_bytes(file.read_bytes()[:int(file.stat().st_size * fraction)])


def zstd_chunks(bag: Path) -> int:
    """Rewrite the MCAP file's chunks zstd-compressed (as ros2 bag record writes them); return how many.

    Only the data section is rewritten: the index after it is dropped, so the file reads as one cut short.
    """
    from backports import zstd

    file = storage_file(bag)
    data = file.read_bytes()
    out, offset, chunks = bytearray(data[:8]), 8, 0
    while offset + 9 <= len(data):
        opcode, length = struct.unpack_from("<BQ", data, offset)
        body = data[offset + 9:offset + 9 + length]
        offset += 9 + length
        if opcode == 0x0F:  # data end: what follows is the index
            break
        if opcode == 0x06:
            start, end, size, crc, name_length = struct.unpack_from("<QQQII", body)
            records_at = 32 + name_length
            (records_length,) = struct.unpack_from("<Q", body, records_at)
            packed = zstd.compress(body[records_at + 8:records_at + 8 + records_length])
            body = struct.pack("<QQQII", start, end, size, crc, 4) + b"zstd" + struct.pack("<Q", len(packed)) + packed
            chunks += 1
        out += struct.pack("<BQ", opcode, len(body)) + body
    file.write_bytes(bytes(out))
    return chunks
