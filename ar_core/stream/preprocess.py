"""One RGB frame to a model-ready tensor: short side resize, centre crop, mean/std normalisation."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from .image import ImageError


class FramePreprocessor:
    """Resize the short side to `short_side`, centre-crop `crop` x `crop`, normalise RGB in [0, 1] by mean/std.

    Only the source region that survives the crop is resized, straight to `crop` x `crop`: the same
    picture as resizing the whole frame and cropping, up to interpolation, for a fraction of the work.
    Shrinking averages areas (cv2.INTER_AREA, so no aliasing); enlarging interpolates bilinearly.
    """

    def __init__(self, short_side: int, crop: int, mean: Sequence[float], std: Sequence[float]):
        if not 0 < crop <= short_side:
            raise ValueError(f"need 0 < crop <= short_side, got crop {crop}, short_side {short_side}")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"need three means and three positive stds, got mean {mean}, std {std}")
        self.short_side = short_side
        self.crop = crop
        std_array = np.asarray(std, dtype=np.float32)
        # (x / 255 - mean) / std folded into x * scale - offset, shaped to broadcast over (3, crop, crop)
        self._scale = (1.0 / (255.0 * std_array)).reshape(3, 1, 1)
        self._offset = (np.asarray(mean, dtype=np.float32) / std_array).reshape(3, 1, 1)

    @classmethod
    def for_spec(cls, spec, crop: int | None = None) -> FramePreprocessor:
        """The evaluation transform of a ModelSpec: short side and crop both `crop`, by default spec.test_crop."""
        size = crop or spec.test_crop
        return cls(size, size, spec.mean, spec.std)

    def __call__(self, rgb: np.ndarray) -> torch.Tensor:
        """(3, crop, crop) float32 from an (H, W, 3) uint8 RGB frame."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
            raise ImageError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.dtype} of shape {rgb.shape}")
        scale = self.short_side / min(rgb.shape[:2])
        square = self._shrink(rgb) if scale < 1 else self._enlarge(rgb, scale)
        chw = np.empty((3, self.crop, self.crop), dtype=np.float32)
        np.multiply(square.transpose(2, 0, 1), self._scale, out=chw)
        chw -= self._offset
        return torch.from_numpy(chw)

    def _crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right): the whole source pixels nearest the square the crop keeps."""
        size = max(1, round(self.crop * min(height, width) / self.short_side))
        top, left = (height - size) // 2, (width - size) // 2
        return top, top + size, left, left + size

    def _shrink(self, rgb: np.ndarray) -> np.ndarray:
        # Area averaging needs whole pixels; the box is off by under half a source pixel, less in the output.
        top, bottom, left, right = self._crop_box(*rgb.shape[:2])
        return cv2.resize(rgb[top:bottom, left:right], (self.crop, self.crop), interpolation=cv2.INTER_AREA)

    def _enlarge(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        # Enlarged, a rounded source box would be off by up to `scale` / 2 output pixels, so sample the
        # exact box: output pixel centres map to (x + 0.5) / scale - 0.5 + offset, as cv2.resize maps them.
        height, width = rgb.shape[:2]
        side = self.crop / scale
        top, left = (height - side) / 2, (width - side) / 2
        to_output = np.array([[scale, 0, scale * (0.5 - left) - 0.5],
                              [0, scale, scale * (0.5 - top) - 0.5]], dtype=np.float64)
        return cv2.warpAffine(rgb, to_output, (self.crop, self.crop), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)


def clip_to_tensor(frames: Sequence[torch.Tensor]) -> torch.Tensor:
    """(3, T, S, S) from T preprocessed (3, S, S) frames, oldest first."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    return torch.stack(list(frames), dim=1)
