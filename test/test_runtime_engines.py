"""Every backend installed here answers like eager PyTorch; sources of every kind open; bad input is refused.

The model is a small X3D-XS trained a little on SyntheticMotion (test/runtime_helpers.py), so probabilities are
far from uniform and a backend that computed something else would show.
"""
import importlib.util
import json
import logging
import shutil

import numpy as np
import pytest
import torch

import runtime_helpers as helpers
from ar_core.models import build_model
from ar_core.devices import DeviceUnavailable
from ar_core.runtime import BACKENDS, BackendUnavailable, InputShapeError, ModelFormatError, create_engine
from ar_core.runtime.backends import backend_device
from ar_core.runtime.onnxruntime_backend import choose_providers

FP32_TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def few_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Shared by the tests here, so the module is exported to ONNX once (the cache key is its weights' hash)."""
    return tmp_path_factory.mktemp("cache")


def assert_matches_eager(engine, tolerance=FP32_TOLERANCE):
    probabilities = engine.predict(helpers.test_clips())
    assert probabilities.dtype == np.float32 and probabilities.shape == (6, helpers.CLASSES)
    np.testing.assert_allclose(probabilities, helpers.eager_probabilities(), atol=tolerance, rtol=0)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)


def test_the_test_model_is_not_flat():
    # Parity on near-uniform outputs would prove little.
    assert helpers.eager_probabilities().max(1).mean() > 0.5


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "openvino"])
def test_module_source_matches_eager(backend, cache_dir):
    with create_engine(helpers.trained_model(), backend, metadata=helpers.metadata(), num_threads=2,
                       cache_dir=cache_dir) as engine:
        assert engine.backend == backend and engine.device == "cpu"
        assert engine.metadata == helpers.metadata()
        assert_matches_eager(engine)
        # torch tensors are accepted as well as numpy arrays
        torch_out = engine.predict(torch.from_numpy(helpers.test_clips()[:2]))
        np.testing.assert_allclose(torch_out, helpers.eager_probabilities()[:2], atol=FP32_TOLERANCE)


def test_torch_compile_matches_eager():
    with create_engine(helpers.trained_model(), "torch-compile", metadata=helpers.metadata(), num_threads=2) as engine:
        assert engine.backend == "torch-compile"
        assert_matches_eager(engine)


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_exported_onnx_alone_is_enough(backend, tmp_path):
    # A copy without anything beside it: the metadata must come from the file itself.
    alone = tmp_path / "model.onnx"
    shutil.copy(helpers.onnx_file(), alone)
    with create_engine(alone, backend, num_threads=2) as engine:
        assert engine.metadata == helpers.metadata()
        assert_matches_eager(engine)


def test_onnx_interface_is_documented_names_and_dynamic_batch():
    import onnx

    graph = onnx.load(str(helpers.onnx_file())).graph
    assert [i.name for i in graph.input] == ["clips"] and [o.name for o in graph.output] == ["probabilities"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 4, 64, 64]
    assert not any(node.op_type == "BatchNormalization" for node in graph.node)  # folded into the convolutions


def test_opsets_below_18_are_refused(tmp_path):
    from ar_core.runtime.onnx_export import export_onnx

    with pytest.raises(ValueError, match="opset must be 18 or higher, got 17"):
        export_onnx(helpers.trained_model(), helpers.metadata(), tmp_path / "m.onnx", opset=17)
    assert not list(tmp_path.iterdir())


def test_openvino_ir_carries_metadata_and_matches(tmp_path):
    xml = helpers.openvino_file()
    assert xml.with_suffix(".bin").is_file()
    with create_engine(xml, "openvino", num_threads=2) as engine:
        assert engine.metadata == helpers.metadata()
        assert_matches_eager(engine)
    with pytest.raises(ModelFormatError, match=r"x3d_xs.xml \(openvino\), not a model of kind torch"):
        create_engine(xml, "torch")


def test_weights_with_json_beside_them():
    with create_engine(helpers.weights_file(), "torch", num_threads=2) as engine:
        assert engine.metadata.classes == helpers.metadata().classes
        assert_matches_eager(engine)
    with pytest.raises(ModelFormatError, match="holds X3D-XS, not X3D-S"):
        create_engine(helpers.weights_file(), "torch", model="s")


def test_weights_without_metadata_need_the_size_and_get_kinetics_names(tmp_path):
    weights = tmp_path / "plain.pth"
    torch.save(build_model("xs").state_dict(), weights)
    with pytest.raises(ModelFormatError, match=r"no metadata \(plain.json beside it\) and its keys are those of xs or s or m; say which model it is \(model="):
        create_engine(weights, "torch")
    with create_engine(weights, "torch", model="xs", crop=64) as engine:
        assert engine.metadata.num_classes == 400
        assert engine.metadata.classes[0] == "abseiling" and engine.metadata.crop == 64
        assert engine.predict(np.zeros((1, 3, 4, 64, 64), np.float32)).shape == (1, 400)
    few = tmp_path / "few.pth"
    torch.save(build_model("xs", num_classes=3).state_dict(), few)
    with pytest.raises(ModelFormatError, match="3-class head and no metadata naming its classes"):
        create_engine(few, "torch", model="xs")


def test_directory_picks_the_file_for_the_backend(tmp_path):
    shutil.copy(helpers.onnx_file(), tmp_path / "x3d_xs.onnx")
    shutil.copy(helpers.weights_file(), tmp_path / "x3d_xs.pth")
    shutil.copy(helpers.weights_file().with_suffix(".json"), tmp_path / "x3d_xs.json")
    with create_engine(tmp_path, "onnxruntime", num_threads=2) as engine:
        assert_matches_eager(engine)
    with create_engine(tmp_path, "torch") as engine:
        assert_matches_eager(engine)
    shutil.copy(helpers.onnx_file(), tmp_path / "other.onnx")
    with pytest.raises(ModelFormatError, match="more than one model.*other.onnx; x3d_xs.onnx"):
        create_engine(tmp_path, "onnxruntime")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFormatError, match="no model file in"):
        create_engine(empty, "onnxruntime")


def test_files_that_are_not_models_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ModelFormatError, match=r"notes.txt is not a model file: unknown suffix '.txt'"):
        create_engine(text, "onnxruntime")
    fake_onnx = tmp_path / "fake.onnx"
    fake_onnx.write_bytes(b"\x00\xffnot a protobuf" * 10)
    with pytest.raises(ModelFormatError, match="fake.onnx is not an ONNX model"):
        create_engine(fake_onnx, "onnxruntime")
    fake_weights = tmp_path / "fake.pth"
    fake_weights.write_text("plain text")
    with pytest.raises(ValueError, match="fake.pth is not a PyTorch checkpoint"):
        create_engine(fake_weights, "torch", model="xs")
    fake_ir = tmp_path / "fake.xml"
    fake_ir.write_text("<net><layers/></net>")
    with pytest.raises(ModelFormatError, match="fake.xml is not an OpenVINO IR model"):
        create_engine(fake_ir, "openvino")
    with pytest.raises(FileNotFoundError, match="weights not found"):
        create_engine(tmp_path / "absent.onnx", "onnxruntime")


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "openvino"])
def test_clips_of_another_size_are_refused(backend):
    source = helpers.trained_model() if backend == "torch" else helpers.onnx_file()
    with create_engine(source, backend, metadata=helpers.metadata() if backend == "torch" else None) as engine:
        with pytest.raises(InputShapeError, match=r"model expects 3x4x64x64 clips, got 3x4x96x96"):
            engine.predict(np.zeros((2, 3, 4, 96, 96), np.float32))
        with pytest.raises(InputShapeError, match=r"model expects 3x4x64x64 clips, got 3x8x64x64"):
            engine.predict(np.zeros((1, 3, 8, 64, 64), np.float32))
        with pytest.raises(InputShapeError, match=r"one clip of shape \(3, 4, 64, 64\).*clips\[None\]"):
            engine.predict(np.zeros((3, 4, 64, 64), np.float32))
        with pytest.raises(InputShapeError, match="must be float32.*uint8"):
            engine.predict(np.zeros((1, 3, 4, 64, 64), np.uint8))


def test_exported_files_keep_their_crop_and_classes(tmp_path):
    with pytest.raises(ModelFormatError, match="exported for 64 px clips; crop=96 needs a new export"):
        create_engine(helpers.onnx_file(), "onnxruntime", crop=96)
    # Metadata that contradicts the file: other crop, other class count.
    shutil.copy(helpers.onnx_file(), tmp_path / "m.onnx")
    with pytest.raises(ModelFormatError, match="its input is Nx3x4x64x64 but its metadata says clips of Nx3x4x96x96"):
        create_engine(tmp_path / "m.onnx", "onnxruntime", metadata=helpers.metadata().replace(crop=96))
    five = helpers.metadata().replace(classes=list("abcde"))
    with pytest.raises(ModelFormatError, match="its output is Nx4 but its metadata lists 5 class names"):
        create_engine(tmp_path / "m.onnx", "onnxruntime", metadata=five)
    with pytest.raises(ModelFormatError, match="4-class head but its metadata lists 5 class names"):
        create_engine(helpers.trained_model(), "torch", metadata=five)
    weights = tmp_path / "w.pth"
    shutil.copy(helpers.weights_file(), weights)
    five.write_json(tmp_path / "w.json")
    with pytest.raises(ModelFormatError, match="w.pth has a 4-class head but its metadata lists 5 class names"):
        create_engine(weights, "torch")


def test_unknown_and_missing_backends_are_named():
    with pytest.raises(ValueError, match="unknown backend 'tflite'; valid backends: torch, torch-compile, "
                                         "onnxruntime, openvino, tensorrt, auto"):
        create_engine(helpers.onnx_file(), "tflite")
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        create_engine(helpers.onnx_file(), "onnxruntime", precision="int4")
    with pytest.raises(ValueError, match="the openvino backend runs on cpu, got device 'cuda'"):
        create_engine(helpers.onnx_file(), "openvino", device="cuda")
    with pytest.raises(BackendUnavailable, match="torch runs fp16 on CUDA only"):
        create_engine(helpers.trained_model(), "torch", metadata=helpers.metadata(), precision="fp16")


def test_a_backend_that_is_not_installed_names_its_package():
    if importlib.util.find_spec("tensorrt"):
        pytest.skip("tensorrt is installed here: the missing-package message cannot be shown")
    with pytest.raises(BackendUnavailable, match="backend 'tensorrt' needs the Python package 'tensorrt'.*"
                                                 "install tensorrt-cu12"):
        create_engine(helpers.onnx_file(), "tensorrt", device="cuda")


def test_devices_default_to_auto_and_cuda_without_cuda_is_a_one_line_error():
    with create_engine(helpers.onnx_file(), "onnxruntime", num_threads=2) as engine:
        assert engine.device == ("cuda" if torch.cuda.is_available() else "cpu")
        assert_matches_eager(engine)
    assert backend_device(BACKENDS["openvino"], "auto") == "cpu"  # auto: where this backend runs
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: no refusal to show")
    with pytest.raises(DeviceUnavailable, match=r"^device 'cuda:0' requested but CUDA is not available here; "
                                                r"use auto or cpu$"):
        create_engine(helpers.onnx_file(), "onnxruntime", device="cuda:0")


def test_missing_provider_falls_back_to_cpu_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, "ar_core.runtime"):
        chosen = choose_providers("cuda:0", ["CPUExecutionProvider"])
    assert chosen == [("CPUExecutionProvider", {})]
    assert "CUDAExecutionProvider is not available" in caplog.text
    assert "falling back to CPUExecutionProvider" in caplog.text


def test_provider_choice_by_device():
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert [p for p, _ in choose_providers("cpu", everything)] == ["CPUExecutionProvider"]
    cuda = choose_providers("cuda:1", everything)
    assert cuda == [("CUDAExecutionProvider", {"device_id": 1}), ("CPUExecutionProvider", {})]
    trt = choose_providers("tensorrt", everything, precision="fp16", cache_dir="/c")
    assert [p for p, _ in trt] == everything
    assert trt[0][1]["trt_fp16_enable"] is True and trt[0][1]["trt_engine_cache_path"] == "/c"
    assert [p for p, _ in choose_providers("tensorrt", ["CUDAExecutionProvider", "CPUExecutionProvider"])] == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(ValueError, match="cpu, cuda\\[:N\\] or tensorrt\\[:N\\], got 'gpu'"):
        choose_providers("gpu", everything)
    with pytest.raises(BackendUnavailable, match="fp16 through its TensorRT provider only"):
        choose_providers("cuda", everything, precision="fp16")


def test_auto_measures_once_then_remembers(tmp_path, caplog):
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(helpers.onnx_file(), folder / "x3d_xs.onnx")
    shutil.copy(helpers.weights_file(), folder / "x3d_xs.pth")
    shutil.copy(helpers.weights_file().with_suffix(".json"), folder / "x3d_xs.json")
    cache = tmp_path / "cache"
    candidates = ["onnxruntime", "openvino", "torch"]
    with caplog.at_level(logging.INFO, "ar_core.runtime"):
        first = create_engine(folder, "auto", num_threads=2, cache_dir=cache, candidates=candidates, trial_runs=2)
    assert first.backend in candidates
    assert_matches_eager(first)
    first.close()
    choices = json.loads((cache / "auto-choices.json").read_text())
    (entry,) = choices.values()
    assert entry["backend"] == first.backend and set(entry["batch1_latency_ms"]) == set(candidates)
    assert "auto: chose" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, "ar_core.runtime"):
        second = create_engine(folder, "auto", num_threads=2, cache_dir=cache, candidates=candidates)
    assert second.backend == first.backend and "as measured before" in caplog.text
    second.close()
    # Another thread count is another key: measured anew.
    create_engine(folder, "auto", num_threads=1, cache_dir=cache, candidates=candidates, trial_runs=1).close()
    assert len(json.loads((cache / "auto-choices.json").read_text())) == 2


def test_auto_skips_backends_that_cannot_run_the_source(tmp_path, caplog):
    with caplog.at_level(logging.INFO, "ar_core.runtime"):
        engine = create_engine(helpers.openvino_file(), "auto", num_threads=2, cache_dir=tmp_path,
                               candidates=["torch", "onnxruntime", "openvino"], trial_runs=1)
    assert engine.backend == "openvino"
    assert "skipping torch (it cannot run openvino models)" in caplog.text
    engine.close()


@pytest.mark.parametrize("backend", ["torch", "onnxruntime", "openvino"])
def test_closed_engines_refuse_to_predict(backend):
    engine = create_engine(helpers.onnx_file() if backend != "torch" else helpers.weights_file(), backend)
    engine.close()
    engine.close()  # twice is fine
    with pytest.raises(RuntimeError, match="is closed"):
        engine.predict(helpers.test_clips())
    assert f"backend='{backend}'" in repr(engine) and "clips=3x4x64x64" in repr(engine)


def test_any_module_runs_with_metadata():
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten(), torch.nn.Linear(3, 4),
                              torch.nn.Softmax(dim=1))
    with pytest.raises(ModelFormatError, match="a Sequential module needs metadata"):
        create_engine(net, "torch")
    clips = helpers.test_clips()
    with create_engine(net, "torch", metadata=helpers.metadata()) as engine:
        with torch.no_grad():
            np.testing.assert_allclose(engine.predict(clips), net(torch.from_numpy(clips)).numpy(), atol=1e-6)
