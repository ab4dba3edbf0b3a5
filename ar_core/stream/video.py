"""A video file through the frame path: decoded frames at their presentation times into an ActivityStream, as
a camera's frames at their stamps (`ar-core infer`)."""
from __future__ import annotations

import os
from collections.abc import Iterator

from ..data.video import frame_to_rgb, iter_frames
from .pipeline import ActivityStream, Prediction


def predict_video(path: str | os.PathLike, stream: ActivityStream) -> Iterator[Prediction]:
    """The predictions the node would publish for this video played as a camera (stamps: presentation times)."""
    for time_s, frame in iter_frames(path):
        prediction = stream.process(time_s, frame, os.fspath(path), convert=frame_to_rgb)
        if prediction is not None:
            yield prediction


def format_predictions(predictions: list[Prediction]) -> str:
    """A plain-text table: the time of each prediction's newest frame, then its ranked classes with scores."""
    lines = [f"{'time s':>8}  top classes"]
    for prediction in predictions:
        ranked = "  ".join(f"{r.label} {r.score:.3f}" for r in prediction.top)
        lines.append(f"{prediction.stamp:8.2f}  {ranked}")
    return "\n".join(lines)
