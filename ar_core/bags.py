"""rosbag2 recordings (sqlite3 and MCAP) without ROS: list topics, read camera images, write test bags.

    bag = Bag("run_042")                      # a rosbag2 folder (metadata.yaml and its storage files)
    for bag_time_ns, stamp_s, frame_id, msg in bag.images("/camera/image_raw"):
        rgb = to_rgb_from_message(msg)

Reading goes through `rosbags`. A recording cut short (a crash, a full disk, a pulled cable) leaves an MCAP
file without its index and end, which rosbags refuses; such files are read front to back as far as they go
and the reading ends with a `BagReadError` that says how far that was.
"""
from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

import apsw  # what rosbags reads sqlite3 bags with
import cv2
import numpy as np
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from .stream.image import decode_compressed, to_rgb

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
        except (ReaderError, apsw.Error, OSError, _Damaged) as err:
            reason = err.reason if isinstance(err, _Damaged) else f"reading failed ({err})"
            raise BagReadError(self.path, reason, read, None if last_ns is None else self.time_s(last_ns),
                               topic) from None

    def _raw(self, topic: str) -> Iterator[tuple[int, bytes]]:
        if self.scanned:
            for file in self._mcap_files():
                yield from ((t, raw) for name, _, t, raw in _scan_mcap(file) if name == topic)
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
                for topic, msgtype, bag_time_ns, _ in _scan_mcap(file):
                    self.topics.setdefault(topic, msgtype)
                    self.counts[topic] += 1
                    self.start_ns = bag_time_ns if self.start_ns is None else min(self.start_ns, bag_time_ns)
        except _Damaged as err:
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


def write_image_bag(path: str | os.PathLike, frames: Iterable[np.ndarray], topic: str = "/camera/image_raw",
                    storage: str = "sqlite3", compressed: bool = False, *, fps: float = 15.0,
                    start_s: float = 1000.0, delay_s: float | Iterable[float] = 0.0,
                    frame_id: str = "camera") -> Path:
    """Record RGB frames as a rosbag2 of rgb8 Images (or jpeg CompressedImages) on `topic`.

    Frame i is stamped start_s + i / fps and recorded `delay_s` later (one delay for all, or one per
    frame), as a recorder receives it.
    """
    if storage not in STORAGES:
        raise ValueError(f"unknown bag storage {storage!r}; valid: {', '.join(STORAGES)}")
    store = _typestore()
    msgtype = COMPRESSED_IMAGE if compressed else IMAGE
    Header, Time = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(Path(path), version=9, storage_plugin=plugin) as writer:
        connection = writer.add_connection(topic, msgtype, typestore=store)
        delays = repeat(delay_s) if np.isscalar(delay_s) else delay_s
        for i, (rgb, delay) in enumerate(zip(frames, delays)):
            stamp_ns = round((start_s + i / fps) * 1e9)
            header = Header(stamp=Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=frame_id)
            msg = _compressed_message(store, header, rgb) if compressed else _image_message(store, header, rgb)
            writer.write(connection, stamp_ns + round(delay * 1e9), store.serialize_cdr(msg, msgtype))
    return Path(path)


@cache
def _typestore():
    return get_typestore(Stores.ROS2_JAZZY)


def _decode(raw: bytes, msgtype: str, index: int):
    try:
        return _typestore().deserialize_cdr(raw, msgtype)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as err:
        raise _Damaged(f"message {index} is not a valid {msgtype} ({type(err).__name__}: {err})") from None


def _image_message(store, header, rgb: np.ndarray):
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    return store.types[IMAGE](header=header, height=height, width=width, encoding="rgb8", is_bigendian=0,
                              step=3 * width, data=rgb.reshape(-1))


def _compressed_message(store, header, rgb: np.ndarray):
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:
        raise ValueError(f"cv2 could not encode a frame of shape {rgb.shape} as jpeg")
    # The format string image_transport's compressed publisher writes for rgb8 input.
    return store.types[COMPRESSED_IMAGE](header=header, format="rgb8; jpeg compressed bgr8", data=jpeg.reshape(-1))


# ---------------------------------------------------------------- MCAP read front to back (recordings cut short)
# Record layout from the MCAP specification (mcap.dev/spec): opcode u8, length u64, then the fields;
# strings are u32 length + UTF-8, all little-endian.
MCAP_MAGIC = b"\x89MCAP0\r\n"
SCHEMA, CHANNEL, MESSAGE, CHUNK, DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F


class _Damaged(Exception):
    """Reading stopped at damage; `readable` says whether anything before it could be read."""

    def __init__(self, reason: str, readable: bool = True):
        super().__init__(reason)
        self.reason, self.readable = reason, readable


def _scan_mcap(file: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """(topic, message type, log time ns, CDR bytes) of each message in file order, without the index.

    Raises _Damaged where the file ends before its data-end record.
    """
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    size = file.stat().st_size
    with file.open("rb") as stream:
        if stream.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
            raise _Damaged(f"{file.name} is not an MCAP file", readable=False)
        while len(head := stream.read(9)) == 9:
            opcode, length = struct.unpack("<BQ", head)
            body = stream.read(min(length, size - stream.tell()))
            if opcode == DATA_END:
                return
            whole = len(body) == length
            records = _chunk_records(body, whole) if opcode == CHUNK else [(opcode, body)] if whole else []
            for inner_opcode, record in records:
                try:
                    message = _read_record(inner_opcode, record, schemas, channels)
                except (struct.error, UnicodeDecodeError) as err:
                    raise _Damaged(f"{file.name}: damaged record near byte {stream.tell()} ({err})") from None
                if message is not None:
                    yield message
            if not whole:
                break
    raise _Damaged(f"{file.name} breaks off after {size} bytes, before the end of its data: "
                   f"a recording cut short")


def _chunk_records(body: bytes, whole: bool) -> Iterator[tuple[int, bytes]]:
    """The records of a chunk; of a cut chunk, those that are complete (uncompressed chunks only)."""
    try:  # after message start and end times (u64), uncompressed size (u64) and CRC (u32)
        compression, offset = _string(body, 28)
        records_length = struct.unpack_from("<Q", body, offset)[0]
    except struct.error:
        return
    records = body[offset + 8:offset + 8 + records_length]
    if compression:
        if not whole:
            return
        records = _decompress(records, compression)
    offset = 0
    while offset + 9 <= len(records):
        opcode, length = struct.unpack_from("<BQ", records, offset)
        if offset + 9 + length > len(records):
            return
        yield opcode, records[offset + 9:offset + 9 + length]
        offset += 9 + length


def _decompress(data: bytes, compression: str) -> bytes:
    if compression == "zstd":
        try:
            from compression import zstd  # Python 3.14
        except ImportError:
            from backports import zstd  # installed with rosbags
        decompress, error = zstd.decompress, zstd.ZstdError
    elif compression == "lz4":
        import lz4.frame

        decompress, error = lz4.frame.decompress, RuntimeError
    else:
        raise _Damaged(f"MCAP chunk compression {compression!r} is not supported (zstd, lz4)")
    try:
        return decompress(data)
    except error as err:
        raise _Damaged(f"a damaged {compression} chunk ({err})") from None


def _read_record(opcode: int, record: bytes, schemas: dict, channels: dict) -> tuple[str, str, int, bytes] | None:
    if opcode == SCHEMA:
        schema_id = struct.unpack_from("<H", record)[0]
        schemas[schema_id] = _string(record, 2)[0]
    elif opcode == CHANNEL:
        channel_id, schema_id = struct.unpack_from("<HH", record)
        channels[channel_id] = (_string(record, 4)[0], schemas.get(schema_id, ""))
    elif opcode == MESSAGE:
        channel_id, _, log_time = struct.unpack_from("<HIQ", record)
        if channel_id in channels:
            topic, msgtype = channels[channel_id]
            return topic, msgtype, log_time, record[22:]  # after channel u16, sequence u32, log and publish u64
    return None


def _string(buffer: bytes, offset: int) -> tuple[str, int]:
    """The MCAP string at `offset` and the offset after it."""
    length = struct.unpack_from("<I", buffer, offset)[0]
    return bytes(buffer[offset + 4:offset + 4 + length]).decode("utf-8"), offset + 4 + length
