"""Draws the top labels onto a frame, for the node's `~/overlay` topic and the demo."""
from __future__ import annotations

import cv2
import numpy as np


def draw_labels(rgb: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy of `rgb` with `lines` written top-left on a dark band, scaled to the image height."""
    out = np.ascontiguousarray(rgb).copy()
    scale = max(0.4, out.shape[0] / 720)
    line_h = int(28 * scale)
    width = max((cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in lines), default=0)
    if lines:
        band = out[: line_h * len(lines) + line_h // 2, : width + line_h]
        band //= 3  # darken so the text reads on any background
    for i, text in enumerate(lines):
        cv2.putText(out, text, (line_h // 2, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    return out
