"""INT8 as OTX does it: `ar-core export --weights M.onnx|M.xml --int8` quantizes an exported model with NNCF,
calibrated on the training data (train's data flags), and reports fp32 vs int8 on its validation clips.

The model is the demo recipe's SyntheticMotion classifier (conftest demo_recipe_run, trained once per session,
32 px): a real classifier, so accuracies mean something and INT8 has to keep them.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import runtime_helpers as helpers
from ar_core.cli import main
from ar_core.runtime import create_engine
from ar_core.runtime.calibration import CalibrationBatches
from ar_core.runtime.quantize import compare_engines, quantize_model
from ar_core.session import open_session

RECIPE = str(Path(__file__).resolve().parents[1] / "config" / "train" / "demo_synthetic.yaml")
DATA = ["--config", RECIPE, "--synthetic-val-samples", "48", "--calib-clips", "16", "--num-threads", "1"]
MIN_AGREEMENT = 0.9


@pytest.fixture(scope="module")
def fp32_models(demo_recipe_run, tmp_path_factory) -> dict[str, Path]:
    """The demo classifier saved as a run, then exported by `ar-core export` to ONNX and to OpenVINO IR."""
    folder = tmp_path_factory.mktemp("fp32")
    run = demo_recipe_run.learner.save(folder / "run").parent
    for fmt in ("onnx", "openvino"):
        assert main(["export", "--weights", str(run), "--format", fmt, "--out", str(folder / fmt)]) == 0
    return {"onnx": folder / "onnx" / "x3d_xs.onnx", "openvino": folder / "openvino" / "x3d_xs.xml"}


def int8_ops(path: Path) -> int:
    """Q/DQ nodes of an ONNX file, FakeQuantize nodes of an IR: there only if the model was quantized."""
    if path.suffix == ".onnx":
        import onnx

        return sum(node.op_type in ("QuantizeLinear", "DequantizeLinear") for node in onnx.load(str(path)).graph.node)
    import openvino as ov

    return sum(op.get_type_name() == "FakeQuantize" for op in ov.Core().read_model(str(path)).get_ops())


def _files(path: Path) -> list[Path]:
    return [path, path.with_suffix(".bin")] if path.suffix == ".xml" else [path]


def weights_bytes(path: Path) -> int:
    return path.stat().st_size if path.suffix == ".onnx" else path.with_suffix(".bin").stat().st_size


@pytest.mark.parametrize("kind, fmt", [("onnx", None), ("openvino", None), ("onnx", "openvino")])
def test_int8_of_an_exported_model_keeps_its_accuracy(kind, fmt, fp32_models, demo_recipe_run, tmp_path, capsys):
    fp32, out = fp32_models[kind], tmp_path / "int8"
    assert main(["export", "--weights", str(fp32), "--int8", *DATA, *(["--format", fmt] if fmt else []),
                 "--out", str(out)]) == 0
    int8 = out / f"x3d_xs-int8{'.xml' if fmt == 'openvino' else fp32.suffix}"
    printed = capsys.readouterr().out
    assert printed.splitlines()[:len(_files(int8))] == [str(path) for path in _files(int8)]  # progress: stderr
    assert "int8 vs fp32 on the validation clips: 48 clips: top-1 agreement" in printed
    assert "accuracy fp32" in printed and "latency per clip fp32" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [path.name for path in _files(int8)] + ["x3d_xs-int8.quantization.json"])

    report = json.loads((out / "x3d_xs-int8.quantization.json").read_text())
    validation = report["validation"]
    assert validation["samples"] == 48 and validation["reference_accuracy"] >= 0.8, validation
    assert validation["top1_agreement"] >= MIN_AGREEMENT, validation
    assert abs(validation["quantized_accuracy"] - validation["reference_accuracy"]) <= 1 - MIN_AGREEMENT
    assert validation["reference_ms"] > 0 and validation["quantized_ms"] > 0
    assert report["calibration"] == {"clips_asked": 16, "clips_used": 16}
    assert report["latency"]["backend"] == "openvino" and report["model"] == str(int8)

    assert int8_ops(int8) > 20 and int8_ops(fp32) == 0
    assert weights_bytes(int8) < weights_bytes(fp32) / 2  # int8 weights in the file
    val = demo_recipe_run.val
    clips = np.stack([val[i][0].numpy() for i in range(24)])
    for backend in ("openvino", "onnxruntime") if int8.suffix == ".onnx" else ("openvino",):
        session = open_session("xs", int8, backend=backend, num_threads=1)
        try:
            quantization = session.metadata.extra["quantization"]
            assert quantization["preset"] == "performance" and quantization["calibration_clips"] == 16
            assert quantization["method"].startswith("nncf ")
            with create_engine(fp32, "openvino", num_threads=1) as reference:
                kept = {key: value for key, value in session.metadata.extra.items() if key != "quantization"}
                assert session.metadata.replace(extra=kept) == reference.metadata  # the rest kept as it was
                agreement = (session.engine.predict(clips).argmax(1) == reference.predict(clips).argmax(1)).mean()
            assert agreement >= MIN_AGREEMENT, (backend, agreement)
        finally:
            session.close()


def test_a_calibration_set_smaller_than_asked_is_used_whole_with_a_warning(fp32_models, tmp_path, caplog, capsys):
    out = tmp_path / "int8"
    code = main(["export", "--weights", str(fp32_models["onnx"]), "--int8", *DATA, "--synthetic-samples", "6",
                 "--synthetic-val-samples", "8", "--out", str(out)])
    assert code == 0
    assert "calibration: 16 clips asked for, the data set has only 6: using 6" in caplog.text
    report = json.loads((out / "x3d_xs-int8.quantization.json").read_text())
    assert report["calibration"] == {"clips_asked": 16, "clips_used": 6}
    assert report["quantization"]["calibration_clips"] == 6 and report["validation"]["samples"] == 8
    capsys.readouterr()
    # An INT8 file is not quantized twice.
    assert main(["export", "--weights", str(out / "x3d_xs-int8.onnx"), "--int8", *DATA, "--out",
                 str(tmp_path / "again")]) == 2
    assert "x3d_xs-int8.onnx is already quantized" in capsys.readouterr().err


@pytest.mark.parametrize("kind, args, message", [
    ("onnx", ["--calib", "synthetic:16"], "--calib and --val are gone: --int8 calibrates on the training data set"),
    ("onnx", ["--synthetic-classes", "3"], "the calibration data set's classes (move right, move left, move up) "
                                           "are not the model's (move right, move left, move up, move down)"),
    ("openvino", ["--format", "onnx"], "is OpenVINO IR: its INT8 copy is IR too (--format openvino), not onnx"),
    ("onnx", ["--dataset", "folder"], "dataset 'folder' needs data_root"),
    ("onnx", ["--calib-clips", "0"], "--calib-clips must be at least 1, got 0"),
])
def test_int8_refusals_name_the_problem(kind, args, message, fp32_models, tmp_path, capsys):
    assert main(["export", "--weights", str(fp32_models[kind]), "--int8", "--config", RECIPE, *args,
                 "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_exported_models_are_quantized_only_with_int8(fp32_models, tmp_path, capsys):
    assert main(["export", "--weights", str(fp32_models["onnx"]), "--format", "openvino", "--out",
                 str(tmp_path)]) == 2
    assert "not a model of kind torch" in capsys.readouterr().err


def test_quantize_model_wants_one_clip_per_item_and_a_known_preset():
    clips = [np.zeros((3, 4, 8, 8), np.float32)] * 4
    with pytest.raises(ValueError, match="NNCF calibrates on one clip at a time, got batches of 2"):
        quantize_model(object(), CalibrationBatches(clips, batch_size=2))
    with pytest.raises(ValueError, match="unknown quantization preset 'fast'; valid presets: performance, mixed"):
        quantize_model(object(), CalibrationBatches(clips, batch_size=1), preset="fast")


def test_report_without_labels_has_no_accuracy():
    clips = helpers.test_clips()[:4]
    with create_engine(helpers.onnx_file(), "openvino", num_threads=2) as a, \
            create_engine(helpers.onnx_file(), "onnxruntime", num_threads=2) as b:
        report = compare_engines(a, b, list(clips), batch_size=3, latency_runs=2)
    assert (report.samples, report.top1_agreement) == (4, 1.0)
    assert report.reference_accuracy is None and "accuracy" not in str(report)
    assert report.max_abs_diff < 1e-4 and report.reference_ms > 0 and "latency per clip" in str(report)


def test_a_missing_validation_set_is_refused_before_anything_is_quantized(fp32_models, demo_recipe_run, tmp_path,
                                                                         capsys):
    # A list data set without val_annotations: the fp32/int8 comparison has no clips, found before NNCF runs.
    from data_helpers import encode_video, pattern_frames

    encode_video(tmp_path / "data/a.mp4", pattern_frames(24, 36, 48))
    (tmp_path / "data/train.txt").write_text("a.mp4 0\n")
    (tmp_path / "labels.txt").write_text("\n".join(demo_recipe_run.learner.classes) + "\n")
    out = tmp_path / "int8"
    assert main(["export", "--weights", str(fp32_models["onnx"]), "--int8", "--dataset", "list", "--data-root",
                 str(tmp_path / "data"), "--annotations", str(tmp_path / "data/train.txt"), "--labels",
                 str(tmp_path / "labels.txt"), "--calib-clips", "1", "--out", str(out)]) == 2
    assert "dataset 'list' needs val_annotations" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []  # nothing quantized, nothing half-written
