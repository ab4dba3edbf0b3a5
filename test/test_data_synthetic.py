"""SyntheticMotion: determinism, balance, motion that matches the class name, time-based rendering."""
from collections import Counter

import cv2
import numpy as np
import pytest
import torch

from ar_core.data import MOTION_CLASSES, SyntheticMotion, render_motion_frames


def test_contract_shapes_and_classes():
    dataset = SyntheticMotion(10, num_classes=6, frames=5, size=48)
    clip, label = dataset[3]
    assert clip.shape == (3, 5, 48, 48) and clip.dtype == torch.float32
    assert isinstance(label, int) and label == 3
    assert dataset.classes == list(MOTION_CLASSES[:6]) and len(dataset) == 10
    assert -2.5 < clip.min() < -1.0 and 1.0 < clip.max() < 2.5  # normalised with mean 0.45, std 0.225
    with pytest.raises(IndexError):
        dataset[10]
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticMotion(4, num_classes=9)


def test_deterministic_per_index_and_seed():
    first, again = SyntheticMotion(8, seed=5), SyntheticMotion(8, seed=5)
    assert torch.equal(first[6][0], again[6][0])
    assert torch.equal(first[2][0], first[2][0])
    assert not torch.equal(first[2][0], first[6][0])  # same class, another scene
    assert not torch.equal(first[2][0], SyntheticMotion(8, seed=6)[2][0])


def test_labels_are_balanced():
    dataset = SyntheticMotion(40, num_classes=8)
    counts = Counter(dataset[i][1] for i in range(len(dataset)))
    assert counts == {label: 5 for label in range(8)}


def test_first_frame_does_not_depend_on_the_class():
    # The scene is drawn the same way for every class: only the motion differs, so a single frame
    # carries no class cue (later frames are first frames of a shifted scene).
    first_frames = [render_motion_frames(label, 3, 64, fps=10, seed=11)[0] for label in range(8)]
    assert all(np.array_equal(first_frames[0], frame) for frame in first_frames[1:])
    later = [render_motion_frames(label, 3, 64, fps=10, seed=11)[2] for label in range(8)]
    assert len({frame.tobytes() for frame in later}) == 8


@pytest.mark.parametrize("label, direction", [(0, (1, 0)), (1, (-1, 0)), (2, (0, -1)), (3, (0, 1)),
                                              (6, (1, -1)), (7, (-1, 1))])
def test_translation_goes_the_named_way(label, direction):
    # Frame differences of a moving object shift by its velocity; phase correlation measures the shift.
    shifts = []
    for seed in range(7):
        frames = render_motion_frames(label, 3, 64, fps=5, seed=seed).astype(np.float32).mean(axis=-1)
        (dx, dy), _ = cv2.phaseCorrelate(frames[1] - frames[0], frames[2] - frames[1])
        shifts.append((dx, dy))
    dx, dy = np.median(shifts, axis=0)
    assert np.sign(np.round([dx, dy])).tolist() == list(direction), shifts
    assert 1.5 < np.hypot(dx, dy) < 4.0  # 0.15..0.3 frame sizes per second at 5 fps: 1.9..3.8 px a frame


def test_motion_is_defined_per_second():
    at_30fps = render_motion_frames(4, 37, 64, fps=30, seed=3)[::12]
    at_2_5fps = render_motion_frames(4, 4, 64, fps=2.5, seed=3)
    np.testing.assert_array_equal(at_30fps, at_2_5fps)
    # The data set spans 1.6 s (X3D-XS: 4 frames every 12th at 30 fps) whatever its frame count.
    dataset = SyntheticMotion(4, frames=8, size=64, noise=0.0)
    frames = render_motion_frames(1, 8, 64, fps=8 / 1.6, seed=dataset.sample_seed(1))
    expected = (torch.tensor(frames).permute(3, 0, 1, 2) / 255 - 0.45) / 0.225
    assert torch.allclose(dataset[1][0], expected, atol=1e-5)


def test_noise_changes_pixels_not_the_scene():
    clean = render_motion_frames(0, 2, 32, fps=5, seed=1).astype(np.float32)
    noisy = render_motion_frames(0, 2, 32, fps=5, seed=1, noise=0.05).astype(np.float32)
    assert 5 < np.abs(noisy - clean).mean() < 15
    with pytest.raises(ValueError, match="label 8 out of range"):
        render_motion_frames(8, 2, 32, fps=5, seed=1)
