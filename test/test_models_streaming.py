"""Continual X3D (ar_core.models.streaming): each step equals the clip network with its temporal padding removed,
evaluated on the frames the step covers; warm-up, reset, restarts, errors, independent streams; and on
SyntheticMotion a trained classifier's stream predictions agree with its clip predictions at the same stamps."""
from __future__ import annotations


import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ar_core.data import SyntheticMotion
from ar_core.models import build_model
from ar_core.models.streaming import to_streaming

SMALL_CROP = 32
BLOCKS = 26  # X3D-XS and -S: ceil(2.2 * (1, 2, 5, 3)) residual blocks


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small ops run fastest on one thread, and the machine is shared
    yield
    torch.set_num_threads(threads)


def randomised(model: str, seed: int = 0, classes: int = 10) -> nn.Module:
    """An X3D network whose every BatchNorm (the zero-initialised last ones too) and the projection are random,
    so no residual branch is silent and the probabilities are far from uniform."""
    torch.manual_seed(seed)
    network = build_model(model, num_classes=classes)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
                module.running_mean.normal_(0, 0.2)
                module.running_var.uniform_(0.5, 2.0)
        network.head.projection.weight.normal_(0, 0.5)
    return network.eval()


def unpadded_clip_forward(network: nn.Module, clip: torch.Tensor, pool_frames: int) -> torch.Tensor:
    """The clip network on `clip` (B, 3, T, H, W) without temporal padding: every temporal conv shortens the
    clip, shortcuts take the centre frames, squeeze-excitation squeezes each frame, and the head averages the
    last `pool_frames` positions. Written from the X3D modules, independently of the streaming code."""
    stem = network.s1.pathway0_stem
    x = stem.conv_xy(clip)
    x = stem.relu(stem.bn(F.conv3d(x, stem.conv.weight, groups=stem.conv.groups)))
    for stage in (network.s2, network.s3, network.s4, network.s5):
        for block in stage.children():
            branch = block.branch2
            y = F.relu(branch.a_bn(branch.a(x)))
            y = branch.b_bn(F.conv3d(y, branch.b.weight, stride=branch.b.stride, padding=(0, 1, 1),
                                     groups=branch.b.groups))
            if branch.se is not None:
                squeezed = y.mean(dim=(3, 4), keepdim=True)  # per frame
                y = y * torch.sigmoid(branch.se.fc2(F.relu(branch.se.fc1(squeezed))))
            y = branch.c_bn(branch.c(F.silu(y)))
            shortcut = x if block.branch1 is None else block.branch1_bn(block.branch1(x))
            x = F.relu(shortcut[:, :, 1:-1] + y)
    assert x.shape[2] == pool_frames, "the window should leave exactly pool_frames positions for the head"
    head = network.head
    x = F.relu(head.conv_5_bn(head.conv_5(x[:, :, -pool_frames:])))
    kernel = (pool_frames, min(head.pool_size[1], x.shape[3]), min(head.pool_size[2], x.shape[4]))
    x = F.relu(head.lin_5(F.avg_pool3d(x, kernel, stride=1)))
    return head.projection(x.permute(0, 2, 3, 4, 1)).softmax(dim=-1).mean(dim=(1, 2, 3))


@pytest.mark.parametrize("model, pool_frames, receptive_field", [("xs", None, 60), ("s", None, 69), ("s", 5, 61)])
def test_each_step_after_warmup_equals_the_unpadded_clip_network_on_its_window(model, pool_frames,
                                                                               receptive_field):
    network = randomised(model)
    stream = to_streaming(network, pool_frames)
    pool = stream.pool_frames
    assert pool == (pool_frames or network.spec.frames)
    assert stream.receptive_field == receptive_field == 1 + 4 + 2 * BLOCKS + pool - 1
    assert stream.warmup_frames == receptive_field - 1
    outputs = 4
    torch.manual_seed(1)
    frames = torch.randn(2, 3, receptive_field + outputs - 1, SMALL_CROP, SMALL_CROP)
    worst, spread = 0.0, []
    for t in range(frames.shape[2]):
        probabilities = stream.step(frames[:, :, t])
        if t < stream.warmup_frames:
            assert probabilities is None
            continue
        with torch.inference_mode():
            expected = unpadded_clip_forward(network, frames[:, :, t - receptive_field + 1:t + 1], pool)
        worst = max(worst, (probabilities - expected).abs().max().item())
        spread.append(probabilities.max().item() - probabilities.min().item())
    print(f"X3D-{model.upper()} pool {pool}: max |stream - unpadded clip| = {worst:.2e} over {outputs} steps")
    assert len(spread) == outputs
    assert worst <= 1e-5
    assert min(spread) > 0.05, "probabilities should be far from uniform for the comparison to mean something"


def test_streams_in_one_batch_are_independent_and_reset_starts_over():
    network = randomised("xs", seed=3)
    together, alone = to_streaming(network), to_streaming(network)
    torch.manual_seed(2)
    frames = torch.randn(2, 3, together.receptive_field + 2, SMALL_CROP, SMALL_CROP)
    frames[1] = 2 * frames[1] + 0.5  # another kind of stream, so the two outputs differ
    first_outputs = []
    for t in range(frames.shape[2]):
        both = together.step(frames[:, :, t])
        second = alone.step(frames[1:, :, t])
        assert (both is None) == (second is None)
        if both is not None:
            assert torch.allclose(both[1:], second, atol=1e-6)
            assert (both[0] - both[1]).abs().max() > 1e-3
            first_outputs.append(both)
    together.reset()
    assert together.steps == 0 and together.restarts == 0
    again = [together.step(frames[:, :, t]) for t in range(frames.shape[2])]
    assert all(p is None for p in again[:together.warmup_frames])
    for before, after in zip(first_outputs, again[together.warmup_frames:]):
        assert torch.allclose(before, after, atol=1e-6)


def test_a_frame_of_another_size_or_batch_restarts_the_state():
    stream = to_streaming(randomised("xs"))
    for _ in range(3):
        stream.step(torch.zeros(1, 3, SMALL_CROP, SMALL_CROP))
    assert stream.steps == 3 and stream.restarts == 0
    assert stream.step(torch.zeros(1, 3, 40, 48)) is None
    assert stream.steps == 1 and stream.restarts == 1
    assert [tuple(s.shape[1:]) for s in stream._states] == stream.state_shapes(40, 48)
    stream.step(torch.zeros(2, 3, 40, 48))
    assert stream.steps == 1 and stream.restarts == 2


def test_functional_form_and_state_description():
    stream = to_streaming(randomised("xs"), pool_frames=1)
    names, shapes = stream.state_names(), stream.state_shapes(SMALL_CROP, SMALL_CROP)
    assert len(names) == len(shapes) == 1 + 2 * BLOCKS  # no pool state for a 1-frame pool
    assert names[:3] == ["s1.pathway0_stem.conv", "s2.pathway0_res0.branch2.b", "s2.pathway0_res0.shortcut"]
    assert shapes[0] == (24, 4, SMALL_CROP // 2, SMALL_CROP // 2)
    states = stream.initial_state(2, SMALL_CROP, SMALL_CROP)
    frame = torch.randn(2, 3, SMALL_CROP, SMALL_CROP)
    with torch.inference_mode():
        probabilities, *new_states = stream(frame, *states)
    assert probabilities.shape == (2, 10)
    assert [s.shape for s in new_states] == [s.shape for s in states]
    assert torch.equal(new_states[0][:, :, :-1], states[0][:, :, 1:])  # the window moved on by one frame
    with pytest.raises(ValueError, match=f"takes {len(names)} states, got 2"):
        stream(frame, *states[:2])


@pytest.mark.parametrize("network, pool_frames, message", [
    (nn.Linear(3, 4), None, "stream inference needs a model with a continual form \\(xs, s, m, l\\); Linear has none"),
    (build_model("lrcn", 4), None, r"continual form \(xs, s, m, l\); LRCN has none"),
    ("xs", 0, "pool_frames must be an integer >= 1, got 0"),
    ("xs", 2.5, "pool_frames must be an integer >= 1, got 2.5"),
])
def test_bad_arguments_are_clear_errors(network, pool_frames, message):
    network = build_model(network, num_classes=4) if isinstance(network, str) else network
    with pytest.raises(ValueError, match=message):
        to_streaming(network, pool_frames)


def test_bad_frames_are_clear_errors():
    stream = to_streaming(randomised("xs"))
    with pytest.raises(ValueError, match=r"step takes frames \(B, 3, H, W\) float32, got \(3, 32, 32\)"):
        stream.step(torch.zeros(3, SMALL_CROP, SMALL_CROP))
    with pytest.raises(ValueError, match="float64"):
        stream.step(torch.zeros(1, 3, SMALL_CROP, SMALL_CROP, dtype=torch.float64))


def test_stream_metadata_round_trips_and_clip_metadata_keeps_its_old_fields():
    from ar_core.models import get_spec
    from ar_core.models.metadata import MetadataError, ModelMetadata
    from ar_core.models.streaming import stream_metadata

    clip = ModelMetadata.for_spec(get_spec("xs"), ["a", "b"], crop=SMALL_CROP)
    stream = to_streaming(build_model("xs", num_classes=2), pool_frames=7)
    meta = stream_metadata(clip, stream)
    assert meta.inference == "stream" and meta.frame_shape == (3, SMALL_CROP, SMALL_CROP)
    assert (meta.stream.pool_frames, meta.stream.warmup_frames) == (7, stream.warmup_frames)
    assert meta.stream.state_shapes == stream.state_shapes(SMALL_CROP, SMALL_CROP)
    assert ModelMetadata.from_json(meta.to_json()) == meta
    assert "inference" not in clip.to_dict() and "stream" not in clip.to_dict()
    with pytest.raises(MetadataError, match="field 'stream' must describe the states"):
        clip.replace(inference="stream")
    with pytest.raises(MetadataError, match="field 'inference' must be one of clip, stream"):
        clip.replace(inference="video")


MOTION_CROP = 32  # the demo recipe's crop


def motion_videos(count: int, frames: int, seed: int) -> torch.Tensor:
    """`count` SyntheticMotion videos (class = index % 4) of `frames` frames at the training clips' rate (4 frames
    in 1.6 s), as (count, 3, frames, S, S)."""
    data = SyntheticMotion(count, 4, frames=frames, size=MOTION_CROP, seed=seed, clip_seconds=1.6 * frames / 4)
    return torch.stack([data[i][0] for i in range(count)])


def test_stream_and_clip_predictions_agree_on_synthetic_motion(demo_recipe_run):
    network = demo_recipe_run.learner.model  # the demo recipe's classifier, trained once per session
    stream = to_streaming(network)
    outputs, clip_frames = 20, network.spec.frames
    videos = motion_videos(8, stream.receptive_field + outputs - 1, seed=5)
    labels = torch.arange(8) % 4
    agree = clip_right = stream_right = total = 0
    for t in range(videos.shape[2]):
        probabilities = stream.step(videos[:, :, t])
        if probabilities is None:
            continue
        with torch.inference_mode():
            clip = network(videos[:, :, t - clip_frames + 1:t + 1])  # the clip of the same stamp
        agree += (probabilities.argmax(1) == clip.argmax(1)).sum().item()
        clip_right += (clip.argmax(1) == labels).sum().item()
        stream_right += (probabilities.argmax(1) == labels).sum().item()
        total += len(clip)
    print(f"stream vs clip top-1 agreement after warm-up: {agree}/{total} = {agree / total:.1%} "
          f"(top-1: clip {clip_right / total:.1%}, stream {stream_right / total:.1%})")
    assert total == 8 * outputs
    assert clip_right / total >= 0.9, "the classifier should be a real one for agreement to mean something"
    assert agree / total >= 0.9
