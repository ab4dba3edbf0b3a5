"""The one model loader (ar_core.runtime.sources): which file each kind of weights input opens, and the refusals."""
import shutil

import pytest
import torch

import runtime_helpers as helpers
from ar_core.labels import kinetics400_labels
from ar_core.models import build_model
from ar_core.runtime import ModelFormatError, WeightsNotFound, open_model
from ar_core.runtime.sources import free_stem, model_files


def official(path, model="xs", num_classes=400):
    """An official-style SlowFast checkpoint: the state dict under model_state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_state": build_model(model, num_classes=num_classes).state_dict()}, path)
    return path


def saved(folder, stem):
    """A save()-style set: <stem>.pth with <stem>.json (the test model's)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(helpers.weights_file(), folder / f"{stem}.pth")
    shutil.copy(helpers.weights_file().with_suffix(".json"), folder / f"{stem}.json")


def test_a_save_folder_opens_its_newest_complete_version(tmp_path):
    saved(tmp_path, "x3d_xs")
    saved(tmp_path, "x3d_xs_1")
    source = open_model(tmp_path)
    assert (source.kind, source.path.name, source.metadata) == ("torch", "x3d_xs_1.pth", helpers.metadata())
    assert not source.module.training
    torch.testing.assert_close(source.module.state_dict(), helpers.trained_model().state_dict())
    # A version whose .json is not written yet is an unfinished save: the one before it is opened.
    shutil.copy(helpers.weights_file(), tmp_path / "x3d_xs_2.pth")
    assert open_model(tmp_path).path.name == "x3d_xs_1.pth"
    # A version is named by its file or its .json.
    assert open_model(tmp_path / "x3d_xs.json").path.name == "x3d_xs.pth"
    assert free_stem(tmp_path, "x3d_xs") == "x3d_xs_3"
    assert free_stem(tmp_path, "x3d_s") == "x3d_s"


def test_kinds_say_which_file_of_a_version_the_caller_takes(tmp_path):
    saved(tmp_path, "x3d_xs")
    shutil.copy(helpers.onnx_file(), tmp_path / "x3d_xs.onnx")
    assert open_model(tmp_path).kind == "torch"
    assert open_model(tmp_path, kinds=("onnx", "torch")).path.name == "x3d_xs.onnx"
    assert open_model(tmp_path / "x3d_xs.json", kinds=("openvino", "onnx")).kind == "onnx"
    assert list(model_files(tmp_path, kinds=("onnx", "torch"))) == ["onnx", "torch"]
    with pytest.raises(ModelFormatError, match=r"holds x3d_xs.pth \(torch\), x3d_xs.onnx \(onnx\), not a model of "
                                               r"kind tensorrt"):
        open_model(tmp_path / "x3d_xs.json", kinds=("tensorrt",))
    with pytest.raises(ValueError, match="model kinds must be some of torch, onnx, openvino, tensorrt, got tflite"):
        open_model(tmp_path, kinds=("tflite",))


def test_a_folder_of_official_checkpoints_opens_the_one_for_the_model(tmp_path):
    official(tmp_path / "x3d_xs.pyth")
    alone = open_model(tmp_path)  # one checkpoint: its official file name says the size
    assert (alone.metadata.model, alone.metadata.classes) == ("xs", list(kinetics400_labels()))
    official(tmp_path / "x3d_s.pyth", "s")
    source = open_model(tmp_path, "s")
    assert (source.path.name, source.metadata.model, source.metadata.frames) == ("x3d_s.pyth", "s", 13)
    with pytest.raises(ModelFormatError, match=r"holds more than one model \(x3d_s.pyth; x3d_xs.pyth\): say which "
                                               r"with model="):
        open_model(tmp_path)
    with pytest.raises(ModelFormatError, match="more than one model.*none is named x3d_m"):
        open_model(tmp_path, "m")
    with pytest.raises(ModelFormatError, match="x3d_s.pyth holds X3D-S, not X3D-XS as requested"):
        open_model(tmp_path / "x3d_s.pyth", "xs")


def test_refusals_name_the_file_and_what_was_expected(tmp_path):
    with pytest.raises(WeightsNotFound, match=f"weights not found: {tmp_path / 'absent'}"):
        open_model(tmp_path / "absent")
    lonely = helpers.metadata().write_json(tmp_path / "lonely.json")
    with pytest.raises(ModelFormatError, match=f"{lonely}: no model file beside it"):
        open_model(lonely)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelFormatError, match=f"no model file in {tmp_path}"):
        open_model(tmp_path)
    plain = official(tmp_path / "plain" / "weights.pth")
    with pytest.raises(ModelFormatError, match=r"weights.pth has no metadata \(weights.json beside it\) and its keys "
                                               r"are those of xs or s or m; say which model it is"):
        open_model(plain)
    assert open_model(plain, "xs").metadata.model == "xs"
    with pytest.raises(ModelFormatError, match="holds X3D-XS, not X3D-S as requested"):
        open_model(helpers.weights_file(), "s")


def test_a_head_whose_classes_are_its_second_axis_opens_with_its_class_count(tmp_path):
    # OTE's cosine head stores cls_head.fc_angular.weight as (embedding, classes): the count is not shape[0].
    from ar_core.models import get_spec
    from ar_core.models.metadata import ModelMetadata

    network = build_model("x3d_mobilenetv3", num_classes=3)
    torch.save(network.state_dict(), tmp_path / "x3d_mobilenetv3.pth")
    ModelMetadata.for_spec(get_spec("x3d_mobilenetv3"), ["a", "b", "c"]).write_json(tmp_path / "x3d_mobilenetv3.json")
    source = open_model(tmp_path / "x3d_mobilenetv3.pth")
    assert source.module.num_classes == 3 and source.metadata.classes == ["a", "b", "c"]
    torch.testing.assert_close(source.module.state_dict(), network.state_dict())
