"""Clip sampling and transforms: shapes and values."""
import numpy as np
import pytest
import torch

from ar_core.data.sampling import clip_indices, random_clip_indices, stride_for_fps, uniform_clip_indices
from ar_core.data.transforms import (ClipTransform, center_crop, horizontal_flip, normalize, random_crop,
                                     resize_short_side, three_crops, to_float_clip)


def test_stride_keeps_clip_duration_across_frame_rates():
    assert stride_for_fps(12, 30) == 12
    assert stride_for_fps(12, 15) == 6
    assert stride_for_fps(5, 29.97) == pytest.approx(4.995)
    with pytest.raises(ValueError, match="positive"):
        stride_for_fps(5, 0)


def test_random_clip_stays_inside_and_is_evenly_spaced():
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        indices = random_clip_indices(100, 4, 12, rng)
        assert len(indices) == 4 and 0 <= indices[0] and indices[-1] <= 99
        assert np.diff(indices).tolist() == [12, 12, 12]
        starts.add(indices[0])
    assert min(starts) <= 3 and max(starts) >= 60  # start can be anywhere in 0..63


def test_fractional_stride_rounds_each_frame():
    assert clip_indices(0, 300, 4, 4.995) == [0, 5, 10, 15]
    assert clip_indices(2.4, 300, 3, 2.5) == [2, 5, 7]


def test_uniform_clips_cover_the_video_from_start_to_end():
    clips = uniform_clip_indices(100, 4, 10, num_clips=3)
    assert clips == [[0, 10, 20, 30], [34, 44, 54, 64], [69, 79, 89, 99]]
    assert uniform_clip_indices(100, 4, 10, num_clips=1) == [[34, 44, 54, 64]]  # centred


def test_short_video_repeats_its_last_frame():
    assert random_clip_indices(5, 4, 3, np.random.default_rng(0)) == [0, 3, 4, 4]
    assert uniform_clip_indices(5, 4, 3, num_clips=2) == [[0, 3, 4, 4], [0, 3, 4, 4]]
    assert uniform_clip_indices(1, 3, 7, num_clips=1) == [[0, 0, 0]]


def _frames(t=3, h=24, w=40):
    return np.random.default_rng(0).integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_to_float_clip_layout_and_range():
    frames = _frames()
    clip = to_float_clip(frames)
    assert clip.shape == (3, 3, 24, 40) and clip.dtype == torch.float32
    assert clip[1, 2, 5, 7].item() == pytest.approx(frames[2, 5, 7, 1] / 255.0)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        to_float_clip(frames[..., :2])


def test_resize_short_side_keeps_aspect_and_values():
    clip = to_float_clip(_frames())
    assert resize_short_side(clip, 12).shape == (3, 3, 12, 20)
    assert resize_short_side(clip, 48).shape == (3, 3, 48, 80)
    tall = clip.transpose(2, 3)
    assert resize_short_side(tall, 12).shape == (3, 3, 20, 12)
    flat = torch.full((3, 2, 30, 50), 0.3)
    assert torch.allclose(resize_short_side(flat, 10), torch.full((3, 2, 10, 17), 0.3), atol=1e-6)
    # Antialiasing on shrink: a 1-pixel checkerboard averages to grey instead of aliasing.
    checker = (torch.arange(64)[:, None] + torch.arange(64)[None]) % 2
    small = resize_short_side(checker.float().expand(3, 1, 64, 64), 16)
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.02)


def test_crops_take_the_right_regions():
    clip = torch.arange(6 * 10, dtype=torch.float32).view(1, 1, 6, 10)
    assert torch.equal(center_crop(clip, 4), clip[..., 1:5, 3:7])
    left, centre, right = three_crops(clip, 6)
    assert torch.equal(left, clip[..., :, 0:6]) and torch.equal(centre, clip[..., :, 2:8])
    assert torch.equal(right, clip[..., :, 4:10])
    top, _, bottom = three_crops(clip.transpose(2, 3), 6)
    assert torch.equal(top, clip.transpose(2, 3)[..., 0:6, :]) and torch.equal(bottom, clip.transpose(2, 3)[..., 4:10, :])
    generator = torch.Generator().manual_seed(0)
    crops = {tuple(random_crop(clip, 4, generator)[0, 0, 0, :1].tolist()) for _ in range(50)}
    assert len(crops) > 5  # positions vary
    with pytest.raises(ValueError, match="does not fit"):
        center_crop(clip, 7)


def test_flip_and_normalize():
    clip = torch.arange(4, dtype=torch.float32).view(1, 1, 1, 4).expand(3, 1, 1, 4)
    assert horizontal_flip(clip)[0, 0, 0].tolist() == [3, 2, 1, 0]
    out = normalize(torch.full((3, 2, 2, 2), 0.5), mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 0.5))
    assert out[:, 0, 0, 0].tolist() == [0.0, 1.0, 1.0]
    batch = normalize(torch.full((2, 3, 1, 1, 1), 0.5), mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 0.5))
    assert batch[1, :, 0, 0, 0].tolist() == [0.0, 1.0, 1.0]


def test_clip_transform_train_and_eval():
    frames = _frames(t=4, h=60, w=80)
    train = ClipTransform(True, crop=32, short_side=(36, 48), mean=(0.45,) * 3, std=(0.225,) * 3)
    generator = torch.Generator().manual_seed(1)
    clips = [train(frames, generator) for _ in range(8)]
    assert all(c.shape == (3, 4, 32, 32) for c in clips)
    assert len({c.sum().item() for c in clips}) > 1  # scale, crop and flip vary
    same = [train(frames, torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(*same)  # ... deterministically for a given generator

    evaluate = ClipTransform(False, crop=32, short_side=36, mean=(0.45,) * 3, std=(0.225,) * 3)
    clip = evaluate(frames)
    expected = normalize(center_crop(resize_short_side(to_float_clip(frames), 36), 32), (0.45,) * 3, (0.225,) * 3)
    assert torch.equal(clip, expected)
    views = evaluate.views(frames, 3)
    assert views.shape == (3, 3, 4, 32, 32) and torch.equal(views[1], clip)
    assert evaluate.views(frames, 1).shape == (1, 3, 4, 32, 32)


def test_clip_transform_refuses_bad_settings():
    with pytest.raises(ValueError, match="at least the crop"):
        ClipTransform(True, crop=64, short_side=(48, 80), mean=(0,) * 3, std=(1,) * 3)
    with pytest.raises(ValueError, match="one short_side"):
        ClipTransform(False, crop=32, short_side=(36, 48), mean=(0,) * 3, std=(1,) * 3)
    with pytest.raises(ValueError, match="1 or 3"):
        ClipTransform(False, crop=32, short_side=32, mean=(0,) * 3, std=(1,) * 3).views(_frames(), 2)
