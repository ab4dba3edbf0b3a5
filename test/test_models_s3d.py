"""S3D against torchvision: its published parameter count and GFLOPS, its state-dict layout key by key (a manifest
derived from torchvision's source, test/torchvision_layouts.py), strict loads, its head (2x7x7 average, conv
classifier, mean), and the contract every zoo entry keeps (round trip, ONNX parity, a falling loss, clear errors).

Counting: torchvision's num_params counts every parameter (BatchNorm's included); its 17.98 GFLOPS are
multiply-adds at 3x16x224x224 (FlopCounterMode's total / 2 gives 17.979 there; 64 frames would give 71.9). The
full-size count runs on the meta device; forwards run at 16x64x64 or smaller.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ar_core.models import build_model
from ar_core.models.checkpoints import check_state_dict
from ar_core.models.s3d import ENTRIES, build_s3d
from model_zoo_helpers import (assert_entry_complete, assert_onnx_matches_torch, assert_state_dict_round_trip,
                               gflops, parameter_counts, training_losses)
from torchvision_layouts import learned_parameters, load_manifest, manifest_state_dict, torchvision_s3d_manifest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_entry_holds_torchvisions_recipe():
    entry = ENTRIES["s3d"]
    assert_entry_complete(entry)
    assert entry["builder"] is build_s3d
    # clip_len 64 at frame_rate 15 (pytorch/vision#6537), resize 256x256, crop 224
    assert (entry["frames"], entry["sampling_rate"], entry["train_crop"], entry["test_crop"]) == (64, 2, 224, 224)
    assert entry["mean"] == (0.43216, 0.394666, 0.37645) and entry["std"] == (0.22803, 0.22145, 0.216989)
    assert entry["figures_input"] == (16, 224, 224) and entry["checkpoint"] == "s3d-d76dad2f.pth"


def test_published_parameters_and_gflops():
    entry = ENTRIES["s3d"]
    assert (entry["params"], entry["gflops"]) == (8_320_048, 17.98)
    assert parameter_counts(build_s3d())[0] == 8_320_048
    counted = gflops(build_s3d, (1, 3, *entry["figures_input"]))
    assert counted == pytest.approx(17.98, rel=0.02)
    assert counted == pytest.approx(17.98, abs=0.01)  # in fact equal to torchvision's rounding


def test_manifest_is_torchvisions_layout_and_counts_its_parameters():
    manifest = load_manifest("s3d")
    assert manifest == torchvision_s3d_manifest()  # the JSON is the generator's, nothing edited by hand
    assert learned_parameters(manifest) == 8_320_048


def test_state_dict_keys_order_and_shapes_equal_torchvisions():
    ours = [[key, list(t.shape)] for key, t in build_s3d().state_dict().items()]
    assert ours == load_manifest("s3d")


def test_batchnorm_and_classifier_are_torchvisions():
    model = build_s3d(dropout_rate=0.3)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm3d)]
    assert norms and all(m.eps == 0.001 and m.momentum == 0.001 for m in norms)
    assert isinstance(model.classifier[0], nn.Dropout) and model.classifier[0].p == 0.3
    assert build_s3d().classifier[0].p == 0.2  # torchvision's default
    head = model.classifier[1]
    assert isinstance(head, nn.Conv3d) and head.kernel_size == (1, 1, 1) and head.bias is not None


def test_torchvision_layout_loads_strictly_and_decides_the_outputs():
    state = manifest_state_dict(load_manifest("s3d"))
    clips = torch.randn(2, 3, 8, 32, 32)
    outputs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = build_s3d()
        check_state_dict(model, state, source="s3d manifest")
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            outputs.append(model.eval()(clips))
    assert torch.equal(outputs[0], outputs[1])
    assert outputs[0].shape == (2, 400) and torch.isfinite(outputs[0]).all()


def test_a_resnet_state_dict_is_named():
    state = manifest_state_dict(load_manifest("r3d_18"))
    with pytest.raises(ValueError, match=r"S3D: it holds a r3d_18 checkpoint, not S3D: \d+ missing key\(s\) \[features\.0\.0\.0\.weight, .*"
                                         r"unexpected key\(s\) \[stem\.0\.weight, stem\.1\.weight"):
        check_state_dict(build_model("s3d"), state, source="r3d_18-b3b3357e.pth")


class FixedFeatures(nn.Module):
    """Stands in for `features`: returns the given tensor, so the head alone is tested through forward."""

    def __init__(self, features: torch.Tensor) -> None:
        super().__init__()
        self.value = features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value


@pytest.mark.parametrize("feature_shape", [(2, 1024, 4, 9, 9), (2, 1024, 2, 7, 7)])
def test_head_is_torchvisions_where_torchvision_runs(feature_shape):
    """Features of 4x9x9 (32 frames at 288 px) or 2x7x7 (16 at 224): torchvision's head pools 2x7x7 windows with
    stride 1, applies the conv classifier to each and averages what is left; written out here as it reads."""
    torch.manual_seed(0)
    model = build_s3d(5).eval()
    features = torch.randn(feature_shape)
    model.features = FixedFeatures(features)
    with torch.no_grad():
        got = model(torch.zeros(2, 3, 16, 32, 32))
        expected = torch.mean(model.classifier(nn.AvgPool3d(kernel_size=(2, 7, 7), stride=1)(features)), dim=(2, 3, 4))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_head_averages_everything_below_torchvisions_window():
    """Features under 2x7x7 (crops under 224 px): the window shrinks to the features, a global average."""
    torch.manual_seed(0)
    model = build_s3d(5).eval()
    features = torch.randn(2, 1024, 1, 2, 3)
    model.features = FixedFeatures(features)
    with torch.no_grad():
        got = model(torch.zeros(2, 3, 8, 64, 96))
        expected = model.classifier[1](features.mean(dim=(2, 3, 4), keepdim=True)).flatten(1)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_forward_gives_logits_at_small_inputs():
    model = build_s3d(7).eval()
    with torch.no_grad():
        for shape in ((2, 3, 16, 64, 64), (1, 3, 5, 32, 48)):  # T >= 5, any crop >= 32, non-square too
            logits = model(torch.randn(shape))
            assert logits.shape == (shape[0], 7) and torch.isfinite(logits).all()


def test_bad_clips_name_the_expected_shape():
    model = build_s3d().eval()
    with pytest.raises(ValueError, match=r"s3d expects clips of shape \(N, 3, T>=5, H, W\) \(at least 5 frames\), "
                                         r"got \(1, 3, 4, 64, 64\)"):
        model(torch.randn(1, 3, 4, 64, 64))
    with pytest.raises(ValueError, match=r"got \(1, 1, 8, 32, 32\)"):
        model(torch.randn(1, 1, 8, 32, 32))


def test_state_dict_round_trip(tmp_path):
    assert_state_dict_round_trip(build_s3d, torch.randn(2, 3, 8, 32, 32), tmp_path)


def test_onnx_matches_torch(tmp_path):
    assert_onnx_matches_torch(build_s3d, (3, 8, 32, 32), tmp_path)


def test_training_loss_falls():
    losses = training_losses(build_s3d, (3, 8, 32, 32), steps=6, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0], losses
