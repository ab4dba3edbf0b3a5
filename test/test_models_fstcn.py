"""FstCN: the paper's layer sizes, our own counts (the paper publishes none), the two paths' inputs (middle
frame, frame differences), round trip, ONNX parity, a falling loss, clear errors on bad clips."""
import pytest
import torch

from torch.nn import functional as F

from ar_core.models.fstcn import DIFF_OFFSET, ENTRIES, GridMaxPool, build_fstcn
from model_zoo_helpers import (assert_entry_complete, assert_onnx_matches_torch, assert_state_dict_round_trip,
                               gflops, parameter_counts, training_losses)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Our own counts (no BatchNorm in FstCN, so one number): 400 classes, one 16x204x204 clip.
PARAMS, GFLOPS = 36_409_168, 9.039


def test_entry_recipe():
    entry = ENTRIES["fstcn"]
    assert_entry_complete(entry)
    assert entry["builder"] is build_fstcn
    assert (entry["frames"], entry["train_crop"], entry["test_crop"]) == (16, 204, 204)
    assert entry["figures_input"] == (16, 204, 204)


def test_own_parameter_and_flop_counts():
    assert parameter_counts(build_fstcn()) == (PARAMS, PARAMS)
    assert gflops(build_fstcn, (1, 3, 16, 204, 204)) == pytest.approx(GFLOPS, rel=1e-4)


def test_layer_sizes_follow_the_paper():
    """SCL1-4 Conv(96,7,2) Conv(256,5,2) Conv(512,3,1) x2; Conv5(128,3,1) per path; P 128x128; TCL Conv(32,3,1)
    and Conv(32,5,1); FC 4096 -> 2048 per path; at 204 px the SCL output is 12x12, pooled to 4x4."""
    state = build_fstcn().state_dict()
    expected = {
        "spatial.0.weight": (96, 3, 7, 7), "spatial.4.weight": (256, 96, 5, 5),
        "spatial.8.weight": (512, 256, 3, 3), "spatial.10.weight": (512, 512, 3, 3),
        "scl_conv5.0.weight": (128, 512, 3, 3), "tcl_conv5.0.weight": (128, 512, 3, 3),
        "tcl.transform": (128, 128), "tcl.convs.0.0.weight": (32, 128, 3), "tcl.convs.1.0.weight": (32, 128, 5),
        "scl_fc.0.weight": (4096, 2048), "scl_fc.3.weight": (2048, 4096),
        "tcl_fc.0.weight": (4096, 1024), "tcl_fc.3.weight": (2048, 4096),
        "classifier.weight": (400, 4096),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    with torch.device("meta"):
        model = build_fstcn()
        assert model.spatial(torch.zeros(1, 3, 204, 204)).shape == (1, 512, 12, 12)


@pytest.mark.parametrize("size", [(12, 12), (1, 1), (2, 3), (7, 5), (13, 17)])
def test_grid_max_pool_is_adaptive_max_pool(size):
    """The exportable pool equals nn.AdaptiveMaxPool2d(4) (MaxPool(3, 3) at 12x12), also on maps under 4 px."""
    x = torch.randn(2, 3, *size)
    assert torch.equal(GridMaxPool(4)(x), F.adaptive_max_pool2d(x, 4))


def test_paths_see_the_middle_frame_and_the_frame_differences():
    """A brightness shift of the whole clip leaves the differences alone: only the SCL path's output moves.
    A change in the first frame (not the middle one) reaches only the TCL path."""
    torch.manual_seed(0)
    model = build_fstcn(4).eval()
    clips = torch.randn(1, 3, 12, 32, 32)
    seen = {}
    model.scl_fc.register_forward_hook(lambda m, i, o: seen.__setitem__("scl", o))
    model.tcl_fc.register_forward_hook(lambda m, i, o: seen.__setitem__("tcl", o))
    with torch.no_grad():
        model(clips)
        base = dict(seen)
        model(clips + 0.5)
        torch.testing.assert_close(seen["tcl"], base["tcl"], rtol=0, atol=1e-5)  # (x+c) - (y+c): rounding only
        assert not torch.allclose(seen["scl"], base["scl"], atol=1e-3)
        first = clips.clone()
        first[:, :, 0] += 1.0
        model(first)
        torch.testing.assert_close(seen["scl"], base["scl"], rtol=0, atol=1e-6)
        assert not torch.allclose(seen["tcl"], base["tcl"], atol=1e-3)


def test_forward_at_the_recipe_input_and_tiny_inputs():
    torch.manual_seed(0)
    model = build_fstcn().eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 16, 204, 204)).shape == (1, 400)
        assert model(torch.randn(2, 3, DIFF_OFFSET + 1, 32, 32)).shape == (2, 400)
        assert model(torch.randn(1, 3, 20, 48, 40)).shape == (1, 400)


def test_bad_clips_name_the_expected_shape():
    model = build_fstcn(4).eval()
    with pytest.raises(ValueError, match=r"\(N, 3, T>=10, H, W\).*\(1, 1, 16, 32, 32\)"):
        model(torch.zeros(1, 1, 16, 32, 32))
    with pytest.raises(ValueError, match=r"at least 10 frames.*\(1, 3, 9, 32, 32\)"):
        model(torch.zeros(1, 3, 9, 32, 32))


def test_state_dict_round_trip(tmp_path):
    assert_state_dict_round_trip(build_fstcn, torch.randn(2, 3, 10, 32, 32), tmp_path)


def test_onnx_matches_torch(tmp_path):
    assert_onnx_matches_torch(build_fstcn, (3, 12, 32, 32), tmp_path)


def test_training_loss_falls():
    losses = training_losses(build_fstcn, (3, 10, 32, 32), steps=10, lr=1e-4)
    assert losses[-1] < 0.5 * losses[0], losses
