"""Test bags: RGB frames recorded as a rosbag2 (sqlite3 or MCAP) of Images or CompressedImages, without ROS."""
from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from .reader import COMPRESSED_IMAGE, IMAGE, STORAGES, typestore


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
    store = typestore()
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
