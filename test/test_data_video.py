"""Seeking decoder against full decoding, on real files the tests encode with PyAV."""
from fractions import Fraction

import av
import numpy as np
import pytest

from ar_core.data import video as video_module
from ar_core.data.video import VideoError, probe, read_all_frames, read_frames
from data_helpers import encode_video, pattern_frames

# name, codec, fps, size (h, w), audio: h264 with B-frames and a 12-frame GOP, NTSC and odd rates,
# odd frame sizes, audio tracks muxed between video packets, a container without a frame count, and H.264 in
# AVI, which stores no presentation times (FFmpeg stamps each frame with its position in decode order).
VIDEOS = [
    ("bframes.mp4", "h264", 30, (48, 64), False),
    ("ntsc_audio.mp4", "h264", Fraction(30000, 1001), (46, 62), True),
    ("odd.avi", "mjpeg", 25, (33, 45), True),
    ("bframes_slow.avi", "mpeg4", 12.5, (48, 64), False),
    ("bframes_h264.avi", "h264", 30, (48, 64), False),
    ("no_count.mkv", "vp9", 24, (48, 64), True),
]
NUM_FRAMES = 60


@pytest.fixture(scope="module", params=VIDEOS, ids=[v[0] for v in VIDEOS])
def video(request, tmp_path_factory):
    name, codec, fps, (height, width), audio = request.param
    source = pattern_frames(NUM_FRAMES, height, width, seed=len(name))
    path = encode_video(tmp_path_factory.mktemp("video") / name, source, fps, codec, audio)
    return path, source, fps


def test_probe_reports_the_stream(video):
    path, source, fps = video
    info = probe(path)
    assert info.fps == pytest.approx(float(fps))
    assert (info.height, info.width) == source.shape[1:3]
    assert info.duration_s == pytest.approx(NUM_FRAMES / float(fps), abs=0.15)
    # The AVI muxer may add a one-frame gap when audio is interleaved; mkv has no count, only a duration.
    assert abs(info.num_frames - NUM_FRAMES) <= 1


def test_full_decode_follows_the_source(video):
    path, source, _ = video
    frames = read_all_frames(path)
    assert frames.dtype == np.uint8 and frames.shape[1:] == source.shape[1:]
    assert abs(len(frames) - NUM_FRAMES) <= 1
    # Each decoded frame is closest to its own source frame (allowing the AVI one-slot gap).
    distance = np.abs(frames[:, None].astype(np.int16) - source[None].astype(np.int16)).mean(axis=(2, 3, 4))
    nearest = distance.argmin(axis=1)
    offsets = nearest - np.arange(len(frames))
    assert set(offsets.tolist()) <= {0, -1}, offsets
    assert distance.min(axis=1).max() < 25  # lossy (tiny noisy frames), yet far from other frames (~60)


def test_seeking_returns_exactly_the_frames_of_a_full_decode(video):
    path, _, _ = video
    info = probe(path)
    everything = read_all_frames(path, info)
    rng = np.random.default_rng(0)
    requests = [[0, 1, 2], [NUM_FRAMES - 2, NUM_FRAMES - 1], [13, 13, 25, 37], [50, 20, 35]]
    requests += [sorted(rng.integers(0, NUM_FRAMES, 4).tolist()) for _ in range(8)]
    for indices in requests:
        expected = everything[np.minimum(indices, len(everything) - 1)]
        np.testing.assert_array_equal(read_frames(path, indices, info), expected, err_msg=str(indices))


def test_indices_past_the_end_repeat_the_last_frame(video):
    path, _, _ = video
    last = read_all_frames(path)[-1]
    frames = read_frames(path, [NUM_FRAMES - 1, NUM_FRAMES + 5, 10_000])
    for frame in frames[1:]:
        np.testing.assert_array_equal(frame, last)


def test_seek_decodes_only_part_of_the_file(tmp_path, monkeypatch):
    path = encode_video(tmp_path / "long.mp4", pattern_frames(120, 32, 32), 30, "h264")
    info = probe(path)
    decoded = []
    original = video_module._decoded

    def counting(*args):
        for frame in original(*args):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(video_module, "_decoded", counting)
    read_frames(path, [100, 104, 108], info)
    # From the keyframe at or before 100 (GOP of 12) up to 108, give or take B-frame reordering.
    assert 9 <= len(decoded) < 30, len(decoded)
    assert min(decoded) >= 84 * 512  # 512 ticks a frame: nothing decoded before the GOP in front of frame 96


@pytest.mark.parametrize("content, reason", [(None, "file not found"), (b"", "empty file"),
                                             (b"not a video at all" * 100, "cannot open")])
def test_unreadable_files_name_the_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoError, match=reason) as caught:
        probe(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        frame.sample_rate = 44100
        for i in range(20):
            frame.pts = i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(VideoError, match="no video stream"):
        probe(path)


def test_truncated_file_is_refused(tmp_path):
    path = encode_video(tmp_path / "cut.mp4", pattern_frames(30, 32, 32), 30, "h264")
    path.write_bytes(path.read_bytes()[:2000])  # the index (moov) is at the end: now missing
    with pytest.raises(VideoError, match="cut.mp4"):
        probe(path)


def test_read_frames_needs_indices(tmp_path):
    path = encode_video(tmp_path / "v.mp4", pattern_frames(10, 32, 32), 30, "h264")
    with pytest.raises(ValueError, match="at least one"):
        read_frames(path, [])
