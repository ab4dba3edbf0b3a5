"""LRCN: the ResNet-18 frame encoder against the published ResNet-18 figures, our own counts for the whole model
(none published), the averaged-prediction classifier, round trip, ONNX parity (nn.LSTM), a falling loss."""
import pytest
import torch
from torch import nn

from ar_core.models.lrcn import ENTRIES, ResNet18Trunk, build_lrcn
from model_zoo_helpers import (assert_entry_complete, assert_state_dict_round_trip,
                               gflops, parameter_counts, training_losses)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# He et al. 2016 / torchvision resnet18: 11,689,512 parameters (BatchNorm's included), 1.82 GFLOPs at 224 px.
RESNET18_PARAMS, RESNET18_GFLOPS = 11_689_512, 1.82
# Our own counts (unpublished): 400 classes, one 16x112x112 clip. The LSTM's multiply-adds (~12.6 M) are
# counted too (FlopCounterMode sees its matrix products); the encoder's 16 frames make up the rest.
PARAMS, PARAMS_WITHOUT_BN, GFLOPS = 12_067_792, 12_058_192, 7.770


def resnet18_classifier() -> nn.Module:
    return nn.Sequential(ResNet18Trunk(), nn.Linear(512, 1000))


def test_entry_recipe():
    entry = ENTRIES["lrcn"]
    assert_entry_complete(entry)
    assert entry["builder"] is build_lrcn
    assert (entry["frames"], entry["sampling_rate"], entry["train_crop"], entry["test_crop"]) == (16, 1, 112, 112)
    assert entry["mean"] == (0.485, 0.456, 0.406) and entry["std"] == (0.229, 0.224, 0.225)


def test_encoder_is_the_published_resnet18():
    assert parameter_counts(resnet18_classifier())[0] == RESNET18_PARAMS
    assert gflops(resnet18_classifier, (1, 3, 224, 224)) == pytest.approx(RESNET18_GFLOPS, rel=0.02)


def test_own_parameter_and_flop_counts():
    model = build_lrcn()
    assert parameter_counts(model) == (PARAMS, PARAMS_WITHOUT_BN)
    assert model.lstm.hidden_size == 256 and model.lstm.num_layers == 1 and not model.lstm.bidirectional
    assert gflops(build_lrcn, (1, 3, 16, 112, 112)) == pytest.approx(GFLOPS, rel=1e-4)


def test_logits_are_the_average_of_per_frame_predictions():
    """The paper averages per-frame predictions; the classifier on the averaged LSTM outputs is the same."""
    torch.manual_seed(0)
    model = build_lrcn(7).eval()
    clips = torch.randn(2, 3, 5, 32, 32)
    with torch.no_grad():
        features = model.encoder(clips.transpose(1, 2).reshape(10, 3, 32, 32)).reshape(2, 5, 512)
        per_frame = model.classifier(model.lstm(features)[0])  # (2, 5, 7)
        torch.testing.assert_close(model(clips), per_frame.mean(dim=1), rtol=0, atol=1e-6)
        # The LSTM carries time: reversing the frames changes the prediction.
        assert not torch.allclose(model(clips.flip(2)), model(clips), atol=1e-5)


def test_forward_at_the_recipe_input_and_tiny_inputs():
    torch.manual_seed(0)
    model = build_lrcn().eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 16, 112, 112)).shape == (1, 400)
        assert model(torch.randn(2, 3, 1, 32, 32)).shape == (2, 400)
        assert model(torch.randn(1, 3, 3, 40, 56)).shape == (1, 400)


def test_bad_clips_name_the_expected_shape():
    model = build_lrcn(4).eval()
    with pytest.raises(ValueError, match=r"\(N, 3, T>=1, H, W\).*\(1, 4, 16, 32, 32\)"):
        model(torch.zeros(1, 4, 16, 32, 32))
    with pytest.raises(ValueError, match=r"at least 1 frames.*\(1, 3, 0, 32, 32\)"):
        model(torch.zeros(1, 3, 0, 32, 32))
    with pytest.raises(ValueError, match="num_classes"):
        build_lrcn(0)


def test_state_dict_round_trip(tmp_path):
    assert_state_dict_round_trip(build_lrcn, torch.randn(2, 3, 4, 32, 32), tmp_path)


# ONNX parity of this entry through the project's export path (export_checkpoint -> onnxruntime and
# openvino engines) is test_model_zoo.py's; this file checks the module's own shapes and counts.


def test_training_loss_falls():
    losses = training_losses(build_lrcn, (3, 4, 32, 32), steps=10, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0], losses
