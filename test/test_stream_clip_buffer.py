"""ClipBuffer: sampling by stamps at the model's rate, clip spacing, restarts."""
import numpy as np
import pytest
import torch

from ar_core.models import get_spec
from ar_core.models.specs import RECIPE_FPS
from ar_core.stream import Clip, ClipBuffer


def stamps_at(fps: float, seconds: float, start: float = 100.0, jitter_s: float = 0.0, seed: int = 0) -> list[float]:
    count = int(seconds * fps)
    noise = np.random.default_rng(seed).uniform(-jitter_s, jitter_s, count)
    return [start + i / fps + float(noise[i]) for i in range(count)]


def frame(stamp: float) -> torch.Tensor:
    """A tiny stand-in for a preprocessed frame that remembers its stamp."""
    return torch.full((3, 2, 2), stamp, dtype=torch.float64)


def run(buffer: ClipBuffer, stamps: list[float]) -> tuple[list[float], list[Clip]]:
    """Feed frames as the node does: offer each, push only those offered; (sampled stamps, clips)."""
    sampled, clips = [], []
    for stamp in stamps:
        if buffer.offer(stamp):
            sampled.append(stamp)
            clip = buffer.push(stamp, frame(stamp), frame_id="camera")
            if clip is not None:
                clips.append(clip)
    return sampled, clips


def test_interval_counts_frames_of_a_30_fps_video():
    assert RECIPE_FPS == 30.0
    assert get_spec("xs").interval_s == pytest.approx(12 / 30)
    assert get_spec("m").interval_s == pytest.approx(5 / 30)


@pytest.mark.parametrize("name", ["xs", "s", "m"])
def test_15_and_30_fps_cameras_give_clips_of_the_same_duration(name):
    spec = get_spec(name)
    durations = {}
    for fps in (15.0, 30.0):
        _, clips = run(ClipBuffer(spec.frames, spec.interval_s), stamps_at(fps, 8.0))
        assert clips and all(clip.tensor.shape == (3, spec.frames, 2, 2) for clip in clips)
        durations[fps] = [clip.newest_stamp - clip.stamps[0] for clip in clips]
    expected = (spec.frames - 1) * spec.interval_s
    # X3D-M samples every 1/6 s, which a 15 fps camera can only hit to the nearest frame.
    for fps, values in durations.items():
        assert values == pytest.approx([expected] * len(values), abs=0.5 / fps + 1e-9), fps
    assert np.mean(durations[15.0]) == pytest.approx(np.mean(durations[30.0]), abs=1 / 30)
    assert len(durations[15.0]) == pytest.approx(len(durations[30.0]), abs=1)


def test_clip_holds_the_newest_frames_in_order_with_their_stamps():
    _, clips = run(ClipBuffer(4, 0.1), stamps_at(30.0, 1.0))
    clip = clips[-1]
    assert clip.frame_id == "camera" and clip.newest_stamp == clip.stamps[-1]
    assert clip.stamps == sorted(clip.stamps) and len(clip.stamps) == 4
    assert [clip.tensor[0, t, 0, 0].item() for t in range(4)] == clip.stamps  # frames match their stamps


def test_a_clip_every_hop_samples():
    buffer = ClipBuffer(4, 0.1, hop=3)
    sampled, clips = run(buffer, stamps_at(30.0, 2.0))
    newest = [sampled.index(clip.newest_stamp) for clip in clips]
    assert newest[0] == 3  # the first as soon as 4 are held
    assert np.diff(newest).tolist() == [3] * (len(newest) - 1)
    assert clips[1].stamps[:1] == clips[0].stamps[3:]  # consecutive clips overlap by frames - hop


def test_hop_can_change_while_running():
    buffer = ClipBuffer(4, 0.1, hop=5)
    stamps = stamps_at(30.0, 3.0)
    _, clips = run(buffer, stamps[:30])  # 10 samples: clips at samples 4 and 9
    assert len(clips) == 2
    buffer.hop = 1
    _, clips = run(buffer, stamps[30:36])  # two more samples, a clip with each
    assert len(clips) == 2


def test_offer_takes_one_frame_per_interval_so_only_those_get_preprocessed():
    buffer = ClipBuffer(4, 0.2)
    stamps = stamps_at(30.0, 3.0)
    sampled, _ = run(buffer, stamps)
    assert sampled == stamps[::6]
    assert len(buffer) == 4


def test_pushing_every_frame_keeps_only_the_due_ones():
    gated, pushed_all = ClipBuffer(3, 0.2), ClipBuffer(3, 0.2)
    stamps = stamps_at(30.0, 2.0)
    _, clips = run(gated, stamps)
    every = [pushed_all.push(stamp, frame(stamp)) for stamp in stamps]
    assert [clip.stamps for clip in every if clip is not None] == [clip.stamps for clip in clips]


@pytest.mark.parametrize("fps, jitter_ms", [(30.0, 8.0), (15.0, 15.0), (60.0, 4.0)])
def test_jittered_stamps_still_sample_every_nth_frame(fps, jitter_ms):
    stamps = stamps_at(fps, 6.0, jitter_s=jitter_ms / 1000, seed=7)
    sampled, _ = run(ClipBuffer(4, 0.4), stamps)
    every = round(0.4 * fps)
    assert sampled == stamps[::every]  # no frame skipped or taken early, no drift over 6 s


def test_a_gap_re_anchors_the_schedule_on_the_frame_after_it():
    before = stamps_at(30.0, 1.0)
    after = stamps_at(30.0, 1.0, start=before[-1] + 2.0)  # two seconds of lost frames
    sampled, _ = run(ClipBuffer(4, 0.2), before + after)
    resumed = sampled.index(after[0])
    assert sampled[resumed:] == after[::6]


def test_a_camera_slower_than_the_model_rate_gives_every_frame():
    stamps = stamps_at(5.0, 3.0)
    sampled, _ = run(ClipBuffer(4, 1 / 6), stamps)
    assert sampled == stamps


def test_a_stamp_going_back_clears_the_buffer_and_counts_a_reset():
    buffer = ClipBuffer(4, 0.2)
    first_pass = stamps_at(30.0, 2.0)
    run(buffer, first_pass)
    assert buffer.resets == 0 and len(buffer) == 4
    sampled, clips = run(buffer, first_pass)  # the bag starts over
    assert buffer.resets == 1
    assert sampled == first_pass[::6]  # sampled afresh from the restart
    assert all(clip.stamps[0] >= first_pass[0] and clip.stamps == sorted(clip.stamps) for clip in clips)
    assert clips[0].newest_stamp == sampled[3]  # the first clip after the reset needs 4 new samples


def test_a_repeated_stamp_is_not_sampled_twice():
    buffer = ClipBuffer(2, 0.1)
    assert buffer.push(1.0, frame(1.0)) is None
    assert not buffer.offer(1.0)
    assert buffer.push(1.0, frame(1.0)) is None and len(buffer) == 1 and buffer.resets == 0


def test_clear_and_setters_take_effect():
    buffer = ClipBuffer(6, 0.1)
    run(buffer, stamps_at(30.0, 1.0))
    buffer.frames = 3
    assert len(buffer) == 3 and buffer.frames == 3
    buffer.interval_s = 0.5
    sampled, _ = run(buffer, stamps_at(30.0, 2.0, start=101.0))
    assert np.diff(sampled) == pytest.approx([0.5] * (len(sampled) - 1))
    buffer.clear()
    assert len(buffer) == 0 and buffer.offer(0.0)  # anything starts a fresh schedule


def test_bad_settings_and_frames_name_the_problem():
    with pytest.raises(ValueError, match="frames must be a positive integer, got 0"):
        ClipBuffer(0, 0.1)
    with pytest.raises(ValueError, match="hop must be a positive integer, got 0"):
        ClipBuffer(4, 0.1, hop=0)
    with pytest.raises(ValueError, match="interval_s must be a positive number of seconds, got -1"):
        ClipBuffer(4, -1)
    buffer = ClipBuffer(4, 0.1)
    with pytest.raises(ValueError, match="frame stamp must be a finite number of seconds, got nan"):
        buffer.offer(float("nan"))
    buffer.push(0.0, torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match=r"frame of shape \(3, 4, 4\) does not match the held frames of shape "
                                         r"\(3, 8, 8\)"):
        buffer.push(1.0, torch.zeros(3, 4, 4))
