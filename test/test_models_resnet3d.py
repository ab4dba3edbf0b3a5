"""R3D-18 and R(2+1)D-18 against torchvision: its published parameter counts and GFLOPS exactly, its state-dict
layout key by key (a manifest derived from torchvision's source, not from our module), strict loads of such state
dicts, and the contract every zoo entry keeps (round trip, ONNX parity, a falling loss, clear errors).

Counting: torchvision's num_params counts every parameter (BatchNorm's included); its GFLOPS are multiply-adds at
3x16x112x112, which is FlopCounterMode's total / 2 (ar_core.models.profile). The full-size count runs on the meta
device; forwards run at 8x64x64 or smaller, as a full-size one takes seconds on one thread.
"""
from __future__ import annotations

import pytest
import torch

from ar_core.models import build_model
from ar_core.models.checkpoints import CheckpointError, check_state_dict, load_state_dict
from ar_core.models.resnet3d import ENTRIES, build_r2plus1d_18, build_r3d_18
from model_zoo_helpers import (assert_entry_complete, assert_onnx_matches_torch, assert_state_dict_round_trip,
                               gflops, parameter_counts, training_losses)
from torchvision_layouts import learned_parameters, load_manifest, manifest_state_dict, torchvision_resnet_manifest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = ("r3d_18", "r2plus1d_18")
BUILDERS = {"r3d_18": build_r3d_18, "r2plus1d_18": build_r2plus1d_18}


# -- the tests ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_entry_holds_torchvisions_recipe(name):
    entry = ENTRIES[name]
    assert_entry_complete(entry)
    assert entry["builder"] is BUILDERS[name]
    assert (entry["frames"], entry["sampling_rate"], entry["train_crop"], entry["test_crop"]) == (16, 2, 112, 112)
    assert entry["mean"] == (0.43216, 0.394666, 0.37645) and entry["std"] == (0.22803, 0.22145, 0.216989)
    assert entry["figures_input"] == (16, 112, 112)
    assert entry["checkpoint"] == {"r3d_18": "r3d_18-b3b3357e.pth", "r2plus1d_18": "r2plus1d_18-91a641e6.pth"}[name]


@pytest.mark.parametrize("name, params, gflops_published", [("r3d_18", 33_371_472, 40.70),
                                                             ("r2plus1d_18", 31_505_325, 40.52)])
def test_published_parameters_and_gflops(name, params, gflops_published):
    entry = ENTRIES[name]
    assert (entry["params"], entry["gflops"]) == (params, gflops_published)
    assert parameter_counts(entry["builder"]())[0] == params
    counted = gflops(entry["builder"], (1, 3, *entry["figures_input"]))
    assert counted == pytest.approx(gflops_published, rel=0.02)
    assert counted == pytest.approx(gflops_published, abs=0.01)  # in fact equal to torchvision's rounding


@pytest.mark.parametrize("name", NAMES)
def test_manifest_is_torchvisions_layout_and_counts_its_parameters(name):
    manifest = load_manifest(name)
    assert manifest == torchvision_resnet_manifest(name)  # the JSON is the generator's, nothing edited by hand
    assert learned_parameters(manifest) == ENTRIES[name]["params"]  # the manifest alone gives the published count


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_keys_order_and_shapes_equal_torchvisions(name):
    ours = [[key, list(t.shape)] for key, t in ENTRIES[name]["builder"]().state_dict().items()]
    assert ours == load_manifest(name)


def test_r2plus1d_mid_planes_follow_the_block_input():
    """torchvision gives a block's second conv the first conv's mid planes: layer2.0 is 64 -> 128, so both have
    64*128*27 // (64*9 + 3*128) = 230, not the 288 a 128 -> 128 conv would get."""
    state = build_r2plus1d_18().state_dict()
    assert tuple(state["layer2.0.conv1.0.0.weight"].shape) == (230, 64, 1, 3, 3)
    assert tuple(state["layer2.0.conv2.0.0.weight"].shape) == (230, 128, 1, 3, 3)
    assert tuple(state["layer2.1.conv1.0.0.weight"].shape) == (288, 128, 1, 3, 3)


@pytest.mark.parametrize("name", NAMES)
def test_torchvision_layout_loads_strictly_and_decides_the_outputs(name):
    state = manifest_state_dict(load_manifest(name))
    clips = torch.randn(2, 3, 4, 32, 32)
    outputs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = ENTRIES[name]["builder"]()
        check_state_dict(model, state, source=f"{name} manifest")
        model.load_state_dict(state, strict=True)
        with torch.no_grad():
            outputs.append(model.eval()(clips))
    assert torch.equal(outputs[0], outputs[1])  # the loaded tensors, not the initialisation, decide the logits
    assert outputs[0].shape == (2, 400) and torch.isfinite(outputs[0]).all()


def test_a_state_dict_of_the_other_architecture_is_named():
    state = manifest_state_dict(load_manifest("r2plus1d_18"))
    with pytest.raises(ValueError, match=r"does not match R3D-18: it holds a r2plus1d_18 checkpoint, not R3D-18: .*"
                                         r"missing key\(s\) \[layer1\.0\.conv1\.0\.weight, .*"
                                         r"unexpected key\(s\) \[stem\.3\.weight, stem\.4\.weight") as err:
        load_state_dict(build_model("r3d_18"), state, source="r2plus1d_18-91a641e6.pth")
    assert "r2plus1d_18-91a641e6.pth" in str(err.value)
    assert isinstance(err.value, CheckpointError)


def test_a_state_dict_of_another_class_count_names_the_head():
    state = manifest_state_dict(load_manifest("r3d_18"))
    with pytest.raises(ValueError, match=r"2 shape mismatch\(es\) \[fc\.weight: checkpoint \(400, 512\), "
                                         r"VideoResNet \(10, 512\)"):
        check_state_dict(build_r3d_18(10), state)
    model = build_model("r3d_18", num_classes=10)  # through the registry a new class count keeps its new head
    head = model.fc.weight.clone()
    load_state_dict(model, state)
    assert torch.equal(model.fc.weight, head) and torch.equal(model.layer1[0].conv1[0].weight,
                                                               state["layer1.0.conv1.0.weight"])


@pytest.mark.parametrize("name", NAMES)
def test_forward_gives_logits_at_small_inputs(name):
    model = ENTRIES[name]["builder"](7).eval()
    with torch.no_grad():
        for shape in ((2, 3, 8, 64, 64), (1, 3, 1, 32, 48)):  # any T >= 1, any crop >= 32, non-square too
            logits = model(torch.randn(shape))
            assert logits.shape == (shape[0], 7) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", NAMES)
def test_bad_clips_name_the_expected_shape(name):
    model = ENTRIES[name]["builder"]().eval()
    with pytest.raises(ValueError, match=rf"{name} expects clips of shape \(N, 3, T>=1, H, W\).*got \(1, 1, 4, 32, 32\)"):
        model(torch.randn(1, 1, 4, 32, 32))
    with pytest.raises(ValueError, match=r"got 4 dimensions: \(3, 4, 32, 32\)"):
        model(torch.randn(3, 4, 32, 32))


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name, tmp_path):
    assert_state_dict_round_trip(ENTRIES[name]["builder"], torch.randn(2, 3, 4, 32, 32), tmp_path)


def test_onnx_matches_torch(tmp_path):
    # r3d_18 goes through the project's export path in test_model_zoo.py; R(2+1)D-18's factorised convs here.
    assert_onnx_matches_torch(ENTRIES["r2plus1d_18"]["builder"], (3, 4, 32, 32), tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_training_loss_falls(name):
    losses = training_losses(ENTRIES[name]["builder"], (3, 2, 32, 32), steps=3, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0], losses

