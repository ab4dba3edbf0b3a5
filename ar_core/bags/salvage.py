"""MCAP files read front to back without their index: what is left of a recording cut short.

A crash, a full disk or a pulled cable leaves an MCAP file without its index and end, which rosbags refuses;
`scan_mcap` reads such a file record by record as far as it goes and raises `Damaged` where it breaks off.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

# Record layout from the MCAP specification (mcap.dev/spec): opcode u8, length u64, then the fields;
# strings are u32 length + UTF-8, all little-endian.
MCAP_MAGIC = b"\x89MCAP0\r\n"
SCHEMA, CHANNEL, MESSAGE, CHUNK, DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F


class Damaged(Exception):
    """Reading stopped at damage; `readable` says whether anything before it could be read."""

    def __init__(self, reason: str, readable: bool = True):
        super().__init__(reason)
        self.reason, self.readable = reason, readable


def scan_mcap(file: Path) -> Iterator[tuple[str, str, int, bytes]]:
    """(topic, message type, log time ns, CDR bytes) of each message in file order, without the index.

    Raises Damaged where the file ends before its data-end record.
    """
    schemas: dict[int, str] = {}
    channels: dict[int, tuple[str, str]] = {}
    size = file.stat().st_size
    with file.open("rb") as stream:
        if stream.read(len(MCAP_MAGIC)) != MCAP_MAGIC:
            raise Damaged(f"{file.name} is not an MCAP file", readable=False)
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
                    raise Damaged(f"{file.name}: damaged record near byte {stream.tell()} ({err})") from None
                if message is not None:
                    yield message
            if not whole:
                break
    raise Damaged(f"{file.name} breaks off after {size} bytes, before the end of its data: "
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
        raise Damaged(f"MCAP chunk compression {compression!r} is not supported (zstd, lz4)")
    try:
        return decompress(data)
    except error as err:
        raise Damaged(f"a damaged {compression} chunk ({err})") from None


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
