"""Calibration clips for INT8 quantization, grouped in fixed-size float32 batches.

NNCF (nncf.Dataset, batch 1) and TensorRT's IInt8EntropyCalibrator2 both consume this; it needs neither
package, so the batching is testable anywhere. Which clips: the CLI builds them from the training data flags.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from .base import InputShapeError

log = logging.getLogger(__name__)


class CalibrationBatches:
    """Batches of `batch_size` clips from `dataset` (items: a clip, or (clip, label)), in dataset order.

    Calibrators need one fixed batch shape, so clips that do not fill a last batch are left out (logged).
    `max_samples` is how many clips are asked for: a dataset with fewer gives what it has, with a warning (an
    INT8 model calibrated on a handful of clips deserves a look). `input_shape` (3, T, S, S) is checked for
    every clip.
    """

    def __init__(self, dataset: Sequence, batch_size: int = 8, max_samples: int | None = None,
                 input_shape: tuple[int, ...] | None = None):
        if batch_size < 1:
            raise ValueError(f"calibration batch_size must be positive, got {batch_size}")
        available = len(dataset) if max_samples is None else min(len(dataset), max_samples)
        if max_samples is not None and len(dataset) < max_samples:
            log.warning("calibration: %d clips asked for, the data set has only %d: using %d", max_samples,
                        len(dataset), available // batch_size * batch_size)
        if available < batch_size:
            raise ValueError(f"calibration needs at least one full batch of {batch_size} clips, "
                             f"the dataset gives {available}")
        self.dataset, self.batch_size, self.input_shape = dataset, batch_size, input_shape
        self.num_batches = available // batch_size
        if available % batch_size:
            log.info("calibration uses %d of %d clips (%d batches of %d)", self.num_samples, available,
                     self.num_batches, batch_size)

    @property
    def num_samples(self) -> int:
        return self.num_batches * self.batch_size

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[np.ndarray]:
        for start in range(0, self.num_samples, self.batch_size):
            yield np.stack([self._clip(i) for i in range(start, start + self.batch_size)])

    def _clip(self, index: int) -> np.ndarray:
        item = self.dataset[index]
        clip = item[0] if isinstance(item, tuple) else item
        clip = clip.detach().cpu().numpy() if isinstance(clip, torch.Tensor) else np.asarray(clip)
        if self.input_shape is not None and clip.shape != tuple(self.input_shape):
            raise InputShapeError(f"calibration clip {index} has shape {clip.shape}, the model expects "
                                  f"{tuple(self.input_shape)} (3, frames, crop, crop)")
        return np.ascontiguousarray(clip, dtype=np.float32)

