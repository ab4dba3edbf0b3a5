"""Write real, tiny video files with PyAV for the data tests (and any other test that needs a video)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# codec name -> (encoder, pixel format, encoder options). h264 gets B-frames and a short GOP so that
# seeking lands mid-file and presentation order differs from decode order.
CODECS = {
    "h264": ("libx264", "yuv420p", {"g": "12", "bf": "3", "crf": "18", "preset": "veryfast"}),
    "mjpeg": ("mjpeg", "yuvj444p", {"qmin": "2", "qmax": "4"}),
    "mpeg4": ("mpeg4", "yuv420p", {"g": "12", "bf": "2", "qmin": "2", "qmax": "4"}),
    "vp9": ("libvpx-vp9", "yuv420p", {"g": "12", "deadline": "realtime"}),
}
AUDIO_CODECS = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".avi": "mp3"}


def pattern_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 that differ clearly from one frame to the next: a smooth texture
    scrolling one pixel per frame, a bright square walking across, and a brightness ramp."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(40, 216, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    texture = np.kron(texture, np.ones((8, 8, 1), np.float32))[:height, :width]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    side = max(4, min(height, width) // 4)
    for i in range(num_frames):
        frame = np.roll(texture, i, axis=1) * (0.7 + 0.3 * (i % 10) / 9)
        left = (3 * i) % max(1, width - side)
        frame[:side, left:left + side] = 255
        frames[i] = frame.astype(np.uint8)
    return frames


def encode_video(path: str | Path, frames: np.ndarray, fps: float | Fraction = 30, codec: str = "h264",
                 audio: bool = False) -> Path:
    """Encode uint8 RGB frames (T, H, W, 3) into `path` (container from its suffix); with `audio`, add a
    sine-tone track covering the same duration so demuxers interleave audio and video packets."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoder, pix_fmt, options = CODECS[codec]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        video = container.add_stream(encoder, rate=rate, options=dict(options))
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        sound = container.add_stream(AUDIO_CODECS[path.suffix], rate=44100) if audio else None
        samples_written = 0
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, 1 / rate
            container.mux(video.encode(frame))
            if sound is not None:
                samples_written = _write_audio_until(container, sound, (i + 1) / rate, samples_written)
        container.mux(video.encode())
        if sound is not None:
            container.mux(sound.encode())
    return path


def _write_audio_until(container, sound, seconds: Fraction, written: int) -> int:
    """Encode sine samples up to `seconds`, in 1024-sample frames; return the total written so far."""
    chunk = 1024
    while written + chunk <= seconds * sound.rate:
        t = (written + np.arange(chunk)) / sound.rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = sound.rate, written
        container.mux(sound.encode(frame))
        written += chunk
    return written


def write_frame_folder(folder: str | Path, frames: np.ndarray, template: str = "img_{:05d}.jpg",
                       first: int = 1) -> Path:
    """Write RGB frames (T, H, W, 3) as numbered images (jpeg or png by the template's suffix) into `folder`."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / template.format(first + i)), np.ascontiguousarray(frame[..., ::-1]))
    return folder
