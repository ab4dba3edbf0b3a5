"""SlowFast with ResNet-18 pathways: the paper's R50 design choices at R18 widths, our own counts (none are
published for R18), one-clip input, round trip, ONNX parity, a falling loss, clear errors on bad clips."""
import pytest
import torch

from ar_core.models.slowfast import ENTRIES, build_slowfast_r18, build_slowfast_r50
from model_zoo_helpers import (assert_entry_complete, assert_state_dict_round_trip,
                               gflops, parameter_counts, training_losses)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Our own counts (no published R18 figure): all parameters / without BatchNorm's, and multiply-add GFLOPs of
# one 32x256x256 view (the paper's counting input; 32 fast frames, 4 of them slow) and of one at 224 px.
PARAMS, PARAMS_WITHOUT_BN, GFLOPS, GFLOPS_224 = 21_779_704, 21_768_520, 19.101, 14.624
# Published SlowFast-R50 figures (per 32x256x256 view): 8x8 34.57 M parameters (pytorchvideo model zoo) and
# 65.7 GFLOPs, 4x16 36.1 GFLOPs (the paper's Table 2).
R50_8X8_PARAMS, R50_8X8_GFLOPS, R50_4X16_GFLOPS = 34.57e6, 65.7, 36.1


def test_entry_recipe():
    entry = ENTRIES["slowfast_r18"]
    assert_entry_complete(entry)
    assert entry["builder"] is build_slowfast_r18
    assert (entry["frames"], entry["sampling_rate"], entry["train_crop"], entry["test_crop"]) == (32, 2, 224, 256)
    assert entry["mean"] == (0.45, 0.45, 0.45) and entry["std"] == (0.225, 0.225, 0.225)
    assert entry["params"] is None and entry["gflops"] is None and entry["figures_input"] == (32, 256, 256)


def test_own_parameter_and_flop_counts():
    assert parameter_counts(build_slowfast_r18()) == (PARAMS, PARAMS_WITHOUT_BN)
    assert gflops(build_slowfast_r18, (1, 3, 32, 256, 256)) == pytest.approx(GFLOPS, rel=1e-4)
    assert gflops(build_slowfast_r18, (1, 3, 32, 224, 224)) == pytest.approx(GFLOPS_224, rel=1e-4)


def test_the_same_design_with_r50_bottlenecks_gives_the_published_r50_figures():
    """Laterals, temporal kernels and widths checked where figures exist: the paper's R50 instantiation."""
    with torch.device("meta"):
        assert parameter_counts(build_slowfast_r50(alpha=4))[0] == pytest.approx(R50_8X8_PARAMS, abs=5e3)
    assert gflops(lambda: build_slowfast_r50(alpha=4), (1, 3, 32, 256, 256)) == pytest.approx(R50_8X8_GFLOPS,
                                                                                                rel=0.02)
    assert gflops(lambda: build_slowfast_r50(alpha=8), (1, 3, 32, 256, 256)) == pytest.approx(R50_4X16_GFLOPS,
                                                                                                rel=0.02)


def test_shapes_follow_the_papers_r50_design():
    """Table 1 at R18 widths: temporal kernels (slow 1,1,3,3 with a 1x7x7 stem; fast 3 everywhere with 5x7x7),
    beta = 1/8 channels, laterals 5x1x1 stride alpha to 2*beta*C concatenated into the next slow stage."""
    state = build_slowfast_r18().state_dict()
    expected = {
        "slow_stem.conv.weight": (64, 3, 1, 7, 7),
        "fast_stem.conv.weight": (8, 3, 5, 7, 7),
        "fuse.0.conv.weight": (16, 8, 5, 1, 1),
        "slow_stages.0.0.a.weight": (64, 80, 1, 3, 3),  # 64 slow + 16 lateral channels in
        "slow_stages.1.0.a.weight": (128, 80, 1, 3, 3),
        "slow_stages.2.0.a.weight": (256, 160, 3, 3, 3),  # res4: non-degenerate temporal kernel
        "slow_stages.3.0.a.weight": (512, 320, 3, 3, 3),
        "slow_stages.3.1.b.weight": (512, 512, 1, 3, 3),
        "fast_stages.0.0.a.weight": (8, 8, 3, 3, 3),
        "fast_stages.3.0.a.weight": (64, 32, 3, 3, 3),
        "fuse.3.conv.weight": (64, 32, 5, 1, 1),
        "projection.weight": (400, 576),  # 512 slow + 64 fast
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert "fuse.4.conv.weight" not in state  # no lateral after res5
    model = build_slowfast_r18()
    assert model.fuse[1].conv.stride == (8, 1, 1) and model.fuse[1].conv.padding == (2, 0, 0)


def test_one_clip_in_slow_pathway_takes_every_alpha_th_frame():
    """Changing a frame the slow pathway does not see changes only the fast features; frame 8 reaches both."""
    torch.manual_seed(0)
    model = build_slowfast_r18(4).eval()
    clips = torch.randn(1, 3, 16, 32, 32)
    with torch.no_grad():
        base = model.slow_stem(clips[:, :, ::8])
        off, on = clips.clone(), clips.clone()
        off[:, :, 3] += 1.0
        on[:, :, 8] += 1.0
        assert torch.equal(model.slow_stem(off[:, :, ::8]), base)
        assert not torch.equal(model.slow_stem(on[:, :, ::8]), base)
        assert not torch.allclose(model(off), model(clips))  # the fast pathway saw frame 3


def test_forward_at_the_recipe_input_and_tiny_inputs():
    torch.manual_seed(0)
    model = build_slowfast_r18().eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 224, 224)).shape == (1, 400)
        assert model(torch.randn(2, 3, 8, 32, 32)).shape == (2, 400)
        assert model(torch.randn(1, 3, 20, 40, 48)).shape == (1, 400)  # T not a multiple of alpha


def test_bad_clips_name_the_expected_shape():
    model = build_slowfast_r18(4).eval()
    with pytest.raises(ValueError, match=r"\(N, 3, T>=8, H, W\).*\(1, 1, 16, 32, 32\)"):
        model(torch.zeros(1, 1, 16, 32, 32))
    with pytest.raises(ValueError, match=r"at least 8 frames.*\(1, 3, 4, 32, 32\)"):
        model(torch.zeros(1, 3, 4, 32, 32))
    with pytest.raises(ValueError, match="dimensions"):
        model(torch.zeros(3, 16, 32, 32))
    with pytest.raises(ValueError, match="dropout_rate"):
        build_slowfast_r18(4, dropout_rate=1.0)


def test_state_dict_round_trip(tmp_path):
    assert_state_dict_round_trip(build_slowfast_r18, torch.randn(2, 3, 8, 32, 32), tmp_path)


# ONNX parity of this entry through the project's export path (export_checkpoint -> onnxruntime and
# openvino engines) is test_model_zoo.py's; this file checks the module's own shapes and counts.


def test_training_loss_falls():
    losses = training_losses(build_slowfast_r18, (3, 8, 32, 32), steps=10, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0], losses
