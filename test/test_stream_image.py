"""sensor_msgs Image/CompressedImage fields to RGB, checked against OpenCV's own conversions."""
import array

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ar_core.stream import MAX_SIDE, ImageError, decode_compressed, rgb_to_image_fields, to_rgb

YUV_CODES = {"yuv422": cv2.COLOR_YUV2RGB_UYVY, "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
             "uyvy": cv2.COLOR_YUV2RGB_UYVY, "yuyv": cv2.COLOR_YUV2RGB_YUY2}
EIGHT_BIT = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", *YUV_CODES]


def random_rgb(height=24, width=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def message_bytes(pixels: np.ndarray, padding: int) -> tuple[int, bytes]:
    """(step, data) of an (H, W, C) array laid out row by row with `padding` junk bytes after each row."""
    rows = pixels.reshape(pixels.shape[0], -1).view(np.uint8)
    junk = np.full((rows.shape[0], padding), 0xAB, dtype=np.uint8)
    padded = np.concatenate([rows, junk], axis=1)
    return padded.shape[1], padded.tobytes()


def raw_and_expected(encoding: str, rng: np.random.Generator, height: int, width: int):
    """Pixels as a camera would send them in `encoding`, and the RGB OpenCV makes of them."""
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (height, width, 1), dtype=np.uint8)
    if encoding == "rgb8":
        return rgb, rgb
    if encoding == "bgr8":
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), rgb
    if encoding == "rgba8":
        return np.concatenate([rgb, alpha], axis=2), rgb
    if encoding == "bgra8":
        return np.concatenate([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), alpha], axis=2), rgb
    if encoding == "mono8":
        return alpha, cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGB)
    yuv = rng.integers(0, 256, (height, width, 2), dtype=np.uint8)
    return yuv, cv2.cvtColor(yuv, YUV_CODES[encoding])


@pytest.mark.parametrize("padding", [0, 5])
@pytest.mark.parametrize("encoding", EIGHT_BIT)
def test_eight_bit_encodings_match_opencv(encoding, padding):
    raw, expected = raw_and_expected(encoding, np.random.default_rng(1), 24, 32)
    step, data = message_bytes(raw, padding)
    assert step == 32 * raw.shape[2] + padding
    np.testing.assert_array_equal(to_rgb(encoding, 24, 32, step, data), expected)


@pytest.mark.parametrize("padding", [0, 3])
@pytest.mark.parametrize("is_bigendian", [False, True, 1])
def test_mono16_keeps_the_high_byte_in_either_byte_order(is_bigendian, padding):
    grey = np.random.default_rng(2).integers(0, 65536, (24, 32, 1), dtype=np.uint16)
    raw = grey.astype(">u2" if is_bigendian else "<u2")
    step, data = message_bytes(raw, padding)
    expected = cv2.cvtColor((grey >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    np.testing.assert_array_equal(to_rgb("mono16", 24, 32, step, data, is_bigendian=is_bigendian), expected)


@pytest.mark.parametrize("padding", [0, 4])
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_round_trip_exactly(encoding, padding):
    rgb = random_rgb()
    step, data = rgb_to_image_fields(rgb, encoding, padding=padding)
    np.testing.assert_array_equal(to_rgb(encoding, 24, 32, step, data), rgb)


@pytest.mark.parametrize("encoding", ["mono8", "mono16"])
def test_grey_encodings_round_trip_to_the_grey_picture(encoding):
    rgb = random_rgb()
    step, data = rgb_to_image_fields(rgb, encoding)
    grey = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    np.testing.assert_array_equal(to_rgb(encoding, 24, 32, step, data), grey)


@pytest.mark.parametrize("encoding", list(YUV_CODES))
def test_yuv_encodings_round_trip_within_yuv_rounding(encoding):
    # Pairs of equal pixels lose nothing to shared chroma, so only YUV rounding remains;
    # swapped UYVY/YUYV byte orders would be off by far more.
    rgb = np.repeat(random_rgb(24, 16), 2, axis=1)
    step, data = rgb_to_image_fields(rgb, encoding, padding=2)
    assert step == 32 * 2 + 2
    difference = np.abs(to_rgb(encoding, 24, 32, step, data).astype(int) - rgb)
    assert difference.max() <= 4


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, np.ndarray, array.array])
def test_every_buffer_type_reads_the_same(kind):
    rgb = random_rgb()
    step, data = rgb_to_image_fields(rgb, "bgr8", padding=1)
    wrapped = {bytes: lambda b: b, bytearray: bytearray, memoryview: memoryview,
               np.ndarray: lambda b: np.frombuffer(b, np.uint8), array.array: lambda b: array.array("B", b)}[kind](data)
    np.testing.assert_array_equal(to_rgb("bgr8", 24, 32, step, wrapped), rgb)


def test_rgb8_is_a_view_of_the_message_buffer():
    rgb = random_rgb()
    step, data = rgb_to_image_fields(rgb, "rgb8", padding=6)
    writable = bytearray(data)
    view = to_rgb("rgb8", 24, 32, step, writable)
    assert np.shares_memory(view, np.frombuffer(writable, np.uint8))
    assert not to_rgb("rgb8", 24, 32, step, data).flags.writeable  # bytes stay immutable


def test_4k_frames_work():
    rgb = random_rgb(2160, 3840, seed=3)
    step, data = rgb_to_image_fields(rgb, "bgr8")
    np.testing.assert_array_equal(to_rgb("bgr8", 2160, 3840, step, data), rgb)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert decode_compressed("jpeg", jpeg.tobytes()).shape == (2160, 3840, 3)


@pytest.mark.parametrize("fields, message", [
    (("bayer_rggb8", 4, 4, 12, bytes(48)), r"unknown encoding 'bayer_rggb8'; supported: rgb8, bgr8, rgba8"),
    (("rgb8", 4, 4, 11, bytes(44)), r"step 11 is smaller than width\*bytes_per_pixel = 4\*3 for rgb8"),
    (("mono16", 4, 4, 7, bytes(28)), r"step 7 is smaller than width\*bytes_per_pixel = 4\*2"),
    (("rgb8", 4, 4, 12, bytes(47)), r"data holds 47 bytes but step\*height = 12\*4 = 48"),
    (("bgr8", 4, 4, 12, bytes(60)), r"data holds 60 bytes but step\*height = 12\*4 = 48"),
    (("rgb8", 0, 4, 12, b""), r"image has no pixels: height 0, width 4"),
    (("mono8", 4, 0, 0, b""), r"image has no pixels: height 4, width 0"),
    (("rgb8", 2, MAX_SIDE + 1, 3 * (MAX_SIDE + 1), b""), r"image of 8193x2 exceeds the limit of 8192 px a side"),
    (("yuv422", 2, 3, 6, bytes(12)), r"yuv422 needs an even width \(two pixels share chroma\), got width 3"),
    (("rgb8", 1, 1, 3, "abc"), r"data must be a contiguous byte buffer, got str"),
    (("rgb8", 1, 2, 6, np.zeros((2, 6), np.uint8)[:, ::2]), r"data must be a contiguous byte buffer, got ndarray"),
])
def test_bad_fields_name_the_problem(fields, message):
    with pytest.raises(ImageError, match=message):
        to_rgb(*fields)


def test_the_size_limit_is_configurable():
    step, data = rgb_to_image_fields(random_rgb(20, 200), "rgb8")
    with pytest.raises(ImageError, match="image of 200x20 exceeds the limit of 100 px a side"):
        to_rgb("rgb8", 20, 200, step, data, max_side=100)
    assert to_rgb("rgb8", 20, 200, step, data, max_side=200).shape == (20, 200, 3)


def encode(rgb: np.ndarray, extension: str) -> bytes:
    ok, encoded = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # as image_transport does
    assert ok
    return encoded.tobytes()


@pytest.mark.parametrize("format", ["png", "bgr8; png compressed bgr8", "rgb8; png compressed bgr8"])
def test_png_decodes_losslessly(format):
    rgb = random_rgb()
    np.testing.assert_array_equal(decode_compressed(format, encode(rgb, ".png")), rgb)


@pytest.mark.parametrize("format", ["jpeg", "jpg", "rgb8; jpeg compressed bgr8", "bgr8; jpeg compressed bgr8"])
def test_jpeg_decodes_as_opencv_does(format):
    rgb = cv2.GaussianBlur(random_rgb(48, 64), (9, 9), 3)  # smooth, so jpeg keeps it close
    jpeg = encode(rgb, ".jpg")
    decoded = decode_compressed(format, np.frombuffer(jpeg, np.uint8))
    reference = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, reference)
    assert np.abs(decoded.astype(int) - rgb).mean() < 3


def test_grey_jpeg_comes_back_as_three_equal_channels():
    grey = cv2.GaussianBlur(random_rgb(48, 64)[..., 0], (9, 9), 3)
    ok, jpeg = cv2.imencode(".jpg", grey)
    rgb = decode_compressed("mono8; jpeg compressed mono8", jpeg.tobytes())
    assert rgb.shape == (48, 64, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_compressed_images_obey_the_size_limit():
    png = encode(random_rgb(20, 200), ".png")
    with pytest.raises(ImageError, match="image of 200x20 exceeds the limit of 150 px a side"):
        decode_compressed("png", png, max_side=150)


@pytest.mark.parametrize("format, data, message", [
    ("tiff", b"II*\x00", r"unsupported compressed format 'tiff'; supported: jpeg, png"),
    ("16UC1; compressedDepth png", b"\x00" * 16, r"compressedDepth images are not supported"),
    ("jpeg", b"", r"data is not jpeg \(format 'jpeg'\): it starts with b''"),
    ("png", b"GIF89a", r"data is not png \(format 'png'\): it starts with b'GIF89a'"),
    ("png", "a str", r"data must be a contiguous byte buffer, got str"),
])
def test_bad_compressed_images_name_the_problem(format, data, message):
    with pytest.raises(ImageError, match=message):
        decode_compressed(format, data)


@pytest.mark.parametrize("extension, codec", [(".jpg", "jpeg"), (".png", "png")])
def test_truncated_or_garbled_compressed_images_are_corrupt(extension, codec):
    encoded = encode(random_rgb(), extension)
    with pytest.raises(ImageError, match=rf"corrupt or truncated {codec} data \({len(encoded) // 2} bytes"):
        decode_compressed(codec, encoded[:len(encoded) // 2])
    garbled = encoded[:12] + bytes(len(encoded) - 12)
    with pytest.raises(ImageError, match=rf"corrupt or truncated {codec} data"):
        decode_compressed(codec, garbled)


def test_rgb_to_image_fields_rejects_what_is_not_rgb():
    with pytest.raises(ImageError, match=r"expected an \(H, W, 3\) uint8 RGB array, got float32 of shape \(4, 4, 3\)"):
        rgb_to_image_fields(np.zeros((4, 4, 3), np.float32), "rgb8")
    with pytest.raises(ImageError, match="unknown encoding 'jpeg'"):
        rgb_to_image_fields(random_rgb(), "jpeg")


BYTES_PER_PIXEL = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "mono16": 2, **dict.fromkeys(YUV_CODES, 2)}
FIELDS = ["encoding", "height", "width", "step", "data length"]


@settings(max_examples=500, deadline=None)
@given(encoding=st.sampled_from(list(BYTES_PER_PIXEL)), height=st.integers(1, 9), width=st.integers(1, 9),
       padding=st.integers(0, 3), is_bigendian=st.booleans(), seed=st.integers(0, 99),
       tampered=st.sampled_from([None, *FIELDS]), number=st.integers(-2**64, 2**64), text=st.text(max_size=12))
def test_any_fields_give_an_rgb_image_or_an_image_error(encoding, height, width, padding, is_bigendian, seed,
                                                        tampered, number, text):
    """Valid fields with at most one of them replaced by anything."""
    step = width * BYTES_PER_PIXEL[encoding] + padding
    length = step * height
    if tampered == "encoding":
        encoding = text
    elif tampered == "height":
        height = number
    elif tampered == "width":
        width = number
    elif tampered == "step":
        step = number
    elif tampered == "data length":
        length = abs(number) % 2048
    data = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    try:
        rgb = to_rgb(encoding, height, width, step, data, is_bigendian)
    except ImageError:
        return
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8
