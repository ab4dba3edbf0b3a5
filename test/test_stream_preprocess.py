"""FramePreprocessor against the textbook resize-then-crop, and clip stacking."""
import cv2
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from ar_core.models import get_spec
from ar_core.stream import FramePreprocessor, ImageError, clip_to_tensor, rgb_to_image_fields, to_rgb

MEAN, STD = (0.40, 0.45, 0.50), (0.20, 0.225, 0.25)  # distinct per channel, so a channel mix-up shows


def smooth_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A picture without detail finer than interpolation can keep, and different everywhere."""
    coarse = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def resize_then_crop(rgb: np.ndarray, short_side: int, crop: int) -> torch.Tensor:
    """The textbook transform in torch: whole frame resized (antialiased), centre crop, normalise."""
    frame = torch.from_numpy(rgb).permute(2, 0, 1)[None].double() / 255
    scale = short_side / min(rgb.shape[:2])
    height, width = round(rgb.shape[0] * scale), round(rgb.shape[1] * scale)
    frame = F.interpolate(frame, size=(height, width), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (height - crop) // 2, (width - crop) // 2
    frame = frame[:, top:top + crop, left:left + crop]
    return ((frame - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]).float()


def pixel_step(frames: torch.Tensor) -> float:
    """Mean difference between horizontal neighbours: what a crop one pixel off would add."""
    return float((frames[..., 1:] - frames[..., :-1]).abs().mean())


# Sizes where the textbook transform lands on whole pixels, so the two differ by interpolation alone.
@pytest.mark.parametrize("height, width, short_side, crop", [
    (480, 640, 240, 200),  # shrink by 2, landscape
    (720, 480, 160, 128),  # shrink by 3, portrait
    (300, 300, 64, 64),  # shrink by 4.7, square
    (480, 640, 96, 64),  # shrink by 5, crop inside the short side
    (40, 60, 80, 80),  # enlarge by 2
    (48, 64, 72, 64),  # enlarge by 1.5
])
def test_matches_resize_then_crop_up_to_interpolation(height, width, short_side, crop):
    rgb = smooth_rgb(height, width)
    fast = FramePreprocessor(short_side, crop, MEAN, STD)(rgb)
    reference = resize_then_crop(rgb, short_side, crop)
    assert fast.shape == reference.shape == (3, crop, crop) and fast.dtype == torch.float32
    assert float((fast - reference).abs().mean()) < 0.1 * pixel_step(reference)  # a tenth of a pixel


def test_odd_sizes_stay_within_a_pixel_of_the_textbook_transform():
    # 640x480 to 182 makes the textbook transform round its resize (242.67 px) and crop offset, so it
    # sits a fraction of a pixel off the true centre; the two still agree to within one pixel.
    rgb = smooth_rgb(480, 640)
    fast = FramePreprocessor(182, 182, MEAN, STD)(rgb)
    reference = resize_then_crop(rgb, 182, 182)
    assert float((fast - reference).abs().mean()) < pixel_step(reference)


def test_normalises_each_channel_by_its_own_mean_and_std():
    colour = np.array([10, 128, 250], dtype=np.uint8)
    rgb = np.broadcast_to(colour, (50, 70, 3)).copy()
    out = FramePreprocessor(40, 32, MEAN, STD)(rgb)
    expected = (colour / 255 - np.array(MEAN)) / np.array(STD)
    for channel in range(3):
        assert torch.allclose(out[channel], torch.tensor(expected[channel], dtype=torch.float32), atol=1e-5)


def test_4k_and_tiny_frames_both_come_out_model_sized():
    preprocess = FramePreprocessor(96, 96, MEAN, STD)
    for height, width in [(2160, 3840), (3, 5), (96, 96), (97, 400)]:
        out = preprocess(smooth_rgb(height, width))
        assert out.shape == (3, 96, 96) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_portrait_and_landscape_keep_the_centre():
    # A bright centre dot must land in the centre of the crop whatever the aspect.
    for height, width in [(300, 500), (500, 300), (301, 499)]:
        rgb = np.zeros((height, width, 3), np.uint8)
        rgb[height // 2 - 5:height // 2 + 5, width // 2 - 5:width // 2 + 5] = 255
        out = FramePreprocessor(100, 80, MEAN, STD)(rgb)[0]
        row, column = divmod(int(out.argmax()), 80)
        assert abs(row - 39.5) <= 2 and abs(column - 39.5) <= 2


@pytest.mark.parametrize("height, width", [(120, 160), (30, 40)])  # shrinking and enlarging
def test_a_read_only_padded_message_view_preprocesses_like_a_copy(height, width):
    rgb = smooth_rgb(height, width)
    step, data = rgb_to_image_fields(rgb, "rgb8", padding=7)
    view = to_rgb("rgb8", height, width, step, data)
    assert not view.flags.writeable and not view.flags.c_contiguous
    preprocess = FramePreprocessor(64, 64, MEAN, STD)
    assert torch.equal(preprocess(view), preprocess(rgb))


def test_for_spec_uses_the_test_crop_and_the_spec_normalisation():
    spec = get_spec("m")
    preprocess = FramePreprocessor.for_spec(spec)
    assert (preprocess.short_side, preprocess.crop) == (spec.test_crop, spec.test_crop) == (256, 256)
    assert FramePreprocessor.for_spec(spec, crop=64).crop == 64
    grey = np.full((80, 120, 3), round(255 * spec.mean[0]), np.uint8)
    assert FramePreprocessor.for_spec(spec, crop=64)(grey).abs().max() < 0.01  # the mean maps to 0


def test_bad_frames_and_settings_name_the_problem():
    preprocess = FramePreprocessor(64, 64, MEAN, STD)
    with pytest.raises(ImageError, match=r"expected an \(H, W, 3\) uint8 RGB frame, got float32 of shape \(8, 8, 3\)"):
        preprocess(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ImageError, match=r"got uint8 of shape \(8, 8\)"):
        preprocess(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="need 0 < crop <= short_side, got crop 80, short_side 64"):
        FramePreprocessor(64, 80, MEAN, STD)
    with pytest.raises(ValueError, match="three positive stds"):
        FramePreprocessor(64, 64, MEAN, (0.2, 0.0, 0.2))


def test_clip_to_tensor_stacks_frames_in_time_order():
    frames = [torch.full((3, 8, 8), float(t)) for t in range(5)]
    clip = clip_to_tensor(frames)
    assert clip.shape == (3, 5, 8, 8)
    assert [clip[:, t].unique().item() for t in range(5)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="a clip needs at least one frame"):
        clip_to_tensor([])
