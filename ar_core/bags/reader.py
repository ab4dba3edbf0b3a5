"""rosbag2 recordings (sqlite3 and MCAP) without ROS: list topics, read camera images.

    bag = Bag("run_042")                      # a rosbag2 folder (metadata.yaml and its storage files)
    for bag_time_ns, stamp_s, frame_id, msg in bag.images("/camera/image_raw"):
        rgb = to_rgb_from_message(msg)

Reading goes through `rosbags`. A recording cut short (a crash, a full disk, a pulled cable) leaves an MCAP
file without its index and end, which rosbags refuses; such files are read front to back as far as they go
(`salvage`) and the reading ends with a `BagReadError` that says how far that was.
"""
from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

import apsw  # what rosbags reads sqlite3 bags with
import numpy as np
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.typesys import Stores, get_typestore

from ..stream.image import decode_compressed, to_rgb
from .salvage import Damaged, scan_mcap

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
STORAGES = ("sqlite3", "mcap")


class BagError(ValueError):
    """A bag that cannot be read as asked (missing, or without the topic); the message names bag and problem."""


class BagReadError(BagError):
    """A bag that breaks off or is damaged part-way; the message says how far reading got."""

    def __init__(self, path: str | os.PathLike, reason: str, messages_read: int = 0,
                 last_time_s: float | None = None, topic: str = ""):
        where = f"{messages_read} messages read" + (f" on {topic}" if topic else "")
        if last_time_s is not None:
            where += f", the last at {last_time_s:.3f} s into the bag"
        super().__init__(f"{path}: {reason} ({where})")
        self.path, self.reason, self.messages_read, self.last_time_s = Path(path), reason, messages_read, last_time_s


class BagImage(NamedTuple):
    bag_time_ns: int  # when the recorder received it
    stamp_s: float  # header stamp: when the camera took it
    frame_id: str
    message: object  # a rosbags sensor_msgs Image or CompressedImage


class Bag:
    """An opened rosbag2 folder: its topics (name -> message type), message counts and start time.

    `start_ns` is the bag time of its first message (any topic); truth files count seconds from it.
    `scanned` is True for MCAP files rosbags cannot open (a recording cut short, or no metadata.yaml):
    they are read front to back, as far as they go.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise BagError(f"no rosbag2 folder at {self.path} (expected a folder holding metadata.yaml and "
                           f".db3 or .mcap files)")
        try:
            with Reader(self.path) as reader:
                self.topics = {c.topic: c.msgtype for c in reader.connections}
                self.counts = Counter()
                for connection in reader.connections:  # one topic may have several (e.g. two QoS)
                    self.counts[connection.topic] += connection.msgcount
                self.start_ns = reader.start_time if reader.message_count else None
                self.scanned = False
        except ReaderError as err:
            if not self._mcap_files():
                raise BagReadError(self.path, f"cannot open the bag ({err})") from None
            self._scan()

    def images(self, topic: str) -> Iterator[BagImage]:
        """The Image or CompressedImage messages of `topic` in bag order (the topic is checked right away)."""
        return self._images(topic, self.image_type(topic))

    def image_type(self, topic: str) -> str:
        """The message type of `topic`, which must hold images; the error lists the topics there are."""
        msgtype = self.topics.get(topic)
        if msgtype is None:
            listing = "; ".join(f"{name} ({kind})" for name, kind in sorted(self.topics.items())) or "none"
            raise BagError(f"{self.path} has no topic {topic!r}; its topics: {listing}")
        if msgtype not in (IMAGE, COMPRESSED_IMAGE):
            raise BagError(f"{self.path}: topic {topic!r} holds {msgtype}, not {IMAGE} or {COMPRESSED_IMAGE}")
        return msgtype

    def time_s(self, bag_time_ns: int) -> float:
        """Seconds from the bag's first message."""
        return (bag_time_ns - (self.start_ns or 0)) * 1e-9

    def _images(self, topic: str, msgtype: str) -> Iterator[BagImage]:
        read, last_ns = 0, None
        try:
            for bag_time_ns, raw in self._raw(topic):
                msg = _decode(raw, msgtype, read)
                yield BagImage(bag_time_ns, msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                               msg.header.frame_id, msg)
                read, last_ns = read + 1, bag_time_ns
        except (ReaderError, apsw.Error, OSError, Damaged) as err:
            reason = err.reason if isinstance(err, Damaged) else f"reading failed ({err})"
            raise BagReadError(self.path, reason, read, None if last_ns is None else self.time_s(last_ns),
                               topic) from None

    def _raw(self, topic: str) -> Iterator[tuple[int, bytes]]:
        if self.scanned:
            for file in self._mcap_files():
                yield from ((t, raw) for name, _, t, raw in scan_mcap(file) if name == topic)
            return
        with Reader(self.path) as reader:
            wanted = [c for c in reader.connections if c.topic == topic]
            for _, bag_time_ns, raw in reader.messages(connections=wanted):
                yield bag_time_ns, raw

    def _mcap_files(self) -> list[Path]:
        # Split bags are name_0.mcap, name_1.mcap, ...: shorter names first keeps name_10 after name_9.
        return sorted(self.path.glob("*.mcap"), key=lambda p: (len(p.name), p.name))

    def _scan(self) -> None:
        self.topics, self.counts, self.start_ns, self.scanned = {}, Counter(), None, True
        try:
            for file in self._mcap_files():
                for topic, msgtype, bag_time_ns, _ in scan_mcap(file):
                    self.topics.setdefault(topic, msgtype)
                    self.counts[topic] += 1
                    self.start_ns = bag_time_ns if self.start_ns is None else min(self.start_ns, bag_time_ns)
        except Damaged as err:
            if not err.readable:
                raise BagReadError(self.path, err.reason) from None


def bag_topics(path: str | os.PathLike) -> dict[str, str]:
    """Topic name -> message type of the bag at `path`."""
    return Bag(path).topics


def iter_images(path: str | os.PathLike, topic: str) -> Iterator[BagImage]:
    """(bag_time_ns, header_stamp_s, frame_id, message) of each image on `topic`, in bag order."""
    return Bag(path).images(topic)


def to_rgb_from_message(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a sensor_msgs Image or CompressedImage, as the node converts it without cv_bridge."""
    if hasattr(msg, "format"):
        return decode_compressed(msg.format, msg.data)
    return to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data, bool(msg.is_bigendian))


@cache
def typestore():
    """The ROS 2 Jazzy message types that bags are read and written with."""
    return get_typestore(Stores.ROS2_JAZZY)


def _decode(raw: bytes, msgtype: str, index: int):
    try:
        return typestore().deserialize_cdr(raw, msgtype)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as err:
        raise Damaged(f"message {index} is not a valid {msgtype} ({type(err).__name__}: {err})") from None
