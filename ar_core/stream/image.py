"""ROS image messages to RGB arrays and back, working on message fields so ROS is never imported.

`to_rgb` reads the fields of a sensor_msgs/Image, `decode_compressed` those of a
sensor_msgs/CompressedImage; `rgb_to_image_fields` goes the other way for test messages and overlays.
"""
from __future__ import annotations

import array

import cv2
import numpy as np

MAX_SIDE = 8192  # refuse images wider or taller than this: a corrupt header must not allocate gigabytes

Buffer = bytes | bytearray | memoryview | array.array | np.ndarray

# encoding -> (bytes per pixel, cv2 code to RGB, cv2 code from RGB); None means the bytes already are RGB.
# mono16 converts its high byte, so its codes are the 8-bit grey ones.
_ENCODINGS: dict[str, tuple[int, int | None, int | None]] = {
    "rgb8": (3, None, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB, cv2.COLOR_RGB2BGR),
    "rgba8": (4, cv2.COLOR_RGBA2RGB, cv2.COLOR_RGB2RGBA),
    "bgra8": (4, cv2.COLOR_BGRA2RGB, cv2.COLOR_RGB2BGRA),
    "mono8": (1, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY),
    "mono16": (2, cv2.COLOR_GRAY2RGB, cv2.COLOR_RGB2GRAY),
    "yuv422": (2, cv2.COLOR_YUV2RGB_UYVY, cv2.COLOR_RGB2YUV_UYVY),  # ROS's yuv422 is UYVY byte order
    "yuv422_yuy2": (2, cv2.COLOR_YUV2RGB_YUY2, cv2.COLOR_RGB2YUV_YUY2),
    "uyvy": (2, cv2.COLOR_YUV2RGB_UYVY, cv2.COLOR_RGB2YUV_UYVY),  # newer ROS names for the same layouts
    "yuyv": (2, cv2.COLOR_YUV2RGB_YUY2, cv2.COLOR_RGB2YUV_YUY2),
}
_CHROMA_SUBSAMPLED = {"yuv422", "yuv422_yuy2", "uyvy", "yuyv"}  # two pixels share one U and V
_SIGNATURES = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
_CODEC_WORDS = {"jpeg": "jpeg", "jpg": "jpeg", "png": "png"}


class ImageError(ValueError):
    """An image message whose fields cannot describe a valid image."""


def to_rgb(encoding: str, height: int, width: int, step: int, data: Buffer,
           is_bigendian: bool | int = False, max_side: int = MAX_SIDE) -> np.ndarray:
    """(height, width, 3) uint8 RGB from the fields of a sensor_msgs/Image.

    rgb8 comes back as a view of `data` without copying (read-only when `data` is); copy it before writing.
    mono16 keeps its high byte; `is_bigendian` says which byte that is.
    """
    if encoding not in _ENCODINGS:
        raise ImageError(f"unknown encoding {encoding!r}; supported: {', '.join(_ENCODINGS)}")
    _check_size(height, width, max_side)
    bytes_per_pixel, code, _ = _ENCODINGS[encoding]
    if encoding in _CHROMA_SUBSAMPLED and width % 2:
        raise ImageError(f"{encoding} needs an even width (two pixels share chroma), got width {width}")
    if step < width * bytes_per_pixel:
        raise ImageError(f"step {step} is smaller than width*bytes_per_pixel = {width}*{bytes_per_pixel} "
                         f"for {encoding}")
    buf = _byte_view(data)
    if buf.size != step * height:
        raise ImageError(f"data holds {buf.size} bytes but step*height = {step}*{height} = {step * height}")
    # Dropping each row's padding is a slice, so pixels stay a view of the message buffer.
    pixels = buf.reshape(height, step)[:, :width * bytes_per_pixel].reshape(height, width, bytes_per_pixel)
    if encoding == "mono16":
        pixels = np.ascontiguousarray(pixels[..., 0 if is_bigendian else 1])
    return pixels if code is None else cv2.cvtColor(pixels, code)


def decode_compressed(format: str, data: Buffer, max_side: int = MAX_SIDE) -> np.ndarray:
    """(H, W, 3) uint8 RGB from the fields of a sensor_msgs/CompressedImage holding jpeg or png.

    `format` is what image_transport writes: "jpeg", "png" or e.g. "rgb8; jpeg compressed bgr8".
    """
    codec = _codec_named_in(format)
    buf = _byte_view(data)
    signature = _SIGNATURES[codec]
    if buf[:len(signature)].tobytes() != signature:
        raise ImageError(f"data is not {codec} (format {format!r}): it starts with {buf[:8].tobytes()!r}")
    try:
        rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR_RGB)
    except cv2.error as err:
        raise ImageError(f"corrupt {codec} data ({buf.size} bytes): {err}") from err
    if rgb is None:
        raise ImageError(f"corrupt or truncated {codec} data ({buf.size} bytes, format {format!r})")
    _check_size(*rgb.shape[:2], max_side)
    return rgb


def rgb_to_image_fields(rgb: np.ndarray, encoding: str, padding: int = 0) -> tuple[int, bytes]:
    """(step, data) of a sensor_msgs/Image in `encoding` (little-endian) holding `rgb`.

    `padding` adds that many zero bytes at the end of each row, as some drivers align rows.
    """
    if encoding not in _ENCODINGS:
        raise ImageError(f"unknown encoding {encoding!r}; supported: {', '.join(_ENCODINGS)}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.dtype} of shape {rgb.shape}")
    if padding < 0:
        raise ImageError(f"padding must be >= 0, got {padding}")
    height, width = rgb.shape[:2]
    if encoding in _CHROMA_SUBSAMPLED and width % 2:
        raise ImageError(f"{encoding} needs an even width (two pixels share chroma), got width {width}")
    _, _, code = _ENCODINGS[encoding]
    pixels = rgb if code is None else cv2.cvtColor(rgb, code)
    if encoding == "mono16":
        pixels = (pixels.astype(np.uint16) * 257).astype("<u2").view(np.uint8)  # 257 maps 0..255 onto 0..65535
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    rows = np.pad(rows, ((0, 0), (0, padding)))
    return rows.shape[1], rows.tobytes()


def _check_size(height: int, width: int, max_side: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageError(f"image has no pixels: height {height}, width {width}")
    if height > max_side or width > max_side:
        raise ImageError(f"image of {width}x{height} exceeds the limit of {max_side} px a side")


def _byte_view(data: Buffer) -> np.ndarray:
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError) as err:
        raise ImageError(f"data must be a contiguous byte buffer, got {type(data).__name__}: {err}") from err


def _codec_named_in(format: str) -> str:
    words = format.lower().replace(";", " ").split()
    if "compresseddepth" in words:
        raise ImageError(f"compressedDepth images are not supported (format {format!r})")
    codecs = [_CODEC_WORDS[word] for word in words if word in _CODEC_WORDS]
    if not codecs:
        raise ImageError(f"unsupported compressed format {format!r}; supported: jpeg, png")
    return codecs[0]
