"""`ar-core export` and `ar-core bench`, run as the command line runs them (ar_core.cli.main)."""
import importlib.util
import shutil

import numpy as np
import pytest
import torch

import runtime_helpers as helpers
from ar_core.cli import main
from ar_core.models import build_model
from ar_core.runtime import create_engine


def test_export_onnx_then_run_it_alone(tmp_path, capsys):
    assert main(["export", "--weights", str(helpers.weights_file()), "--format", "onnx", "--out", str(tmp_path)]) == 0
    path = tmp_path / "x3d_xs.onnx"
    assert capsys.readouterr().out.split() == [str(path)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x3d_xs.onnx"]  # nothing half-written left over
    with create_engine(path, "onnxruntime", num_threads=2) as engine:
        assert engine.metadata == helpers.metadata()
        np.testing.assert_allclose(engine.predict(helpers.test_clips()), helpers.eager_probabilities(), atol=1e-4)


def test_export_takes_a_run_folder_and_exports_its_newest_version(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    torch.save(build_model("xs", num_classes=helpers.CLASSES).state_dict(), run / "x3d_xs.pth")  # untrained
    helpers.metadata().write_json(run / "x3d_xs.json")
    shutil.copy(helpers.weights_file(), run / "x3d_xs_1.pth")  # the trained model, saved second
    shutil.copy(helpers.weights_file().with_suffix(".json"), run / "x3d_xs_1.json")
    out = tmp_path / "out"
    assert main(["export", "--weights", str(run), "--format", "onnx", "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "x3d_xs.onnx")]
    with create_engine(out / "x3d_xs.onnx", "onnxruntime", num_threads=2) as engine:
        np.testing.assert_allclose(engine.predict(helpers.test_clips()), helpers.eager_probabilities(), atol=1e-4)


def test_export_openvino_int8_reports_the_change(tmp_path, capsys):
    code = main(["export", "--weights", str(helpers.weights_file()), "--format", "openvino", "--int8",
                 "--dataset", "synthetic", "--synthetic-samples", "16", "--synthetic-val-samples", "24",
                 "--calib-clips", "16", "--num-threads", "1", "--out", str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "x3d_xs-int8.xml") in out and str(tmp_path / "x3d_xs-int8.bin") in out
    assert "int8 vs fp32 on the validation clips: 24 clips: top-1 agreement with fp32" in out
    with create_engine(tmp_path / "x3d_xs-int8.xml", "openvino", num_threads=2) as engine:
        assert engine.metadata.extra["quantization"]["calibration_clips"] == 16
        agreement = (engine.predict(helpers.test_clips()).argmax(1) == helpers.eager_probabilities().argmax(1)).mean()
    assert agreement >= 5 / 6


@pytest.mark.parametrize("args, message", [
    (["--format", "onnx", "--int8", "--calib", "synthetic:16"], "--calib and --val are gone"),
    (["--format", "onnx", "--fp16"], "--fp16 applies to openvino (fp32 or fp16 weights) and tensorrt exports, not onnx"),
    (["--format", "tensorrt"], "needs the Python package 'tensorrt'"),
])
def test_export_refusals(args, message, tmp_path, capsys):
    if "tensorrt" in args and importlib.util.find_spec("tensorrt"):
        pytest.skip("tensorrt is installed here: the missing-package message cannot be shown")
    assert main(["export", "--weights", str(helpers.weights_file()), *args, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_export_of_missing_weights(tmp_path, capsys):
    assert main(["export", "--weights", str(tmp_path / "nope.pth"), "--format", "onnx", "--out", str(tmp_path)]) == 2
    assert f"weights not found: {tmp_path / 'nope.pth'}" in capsys.readouterr().err


def test_bench_prints_a_side_by_side_table(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AR_ROS_CACHE", str(tmp_path))  # the ONNX export for onnxruntime/openvino goes here
    code = main(["bench", "--model", "xs", "--crop", "64", "--batch-size", "1,2", "--runs", "3", "--num-threads", "1",
                 "--backends", "openvino"])
    assert code == 0
    out = capsys.readouterr().out
    assert "X3D-XS, 4x64x64 clips, 1 threads" in out and "random init" in out
    rows = {(line.split()[0], line.split()[1]): line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("torch", "openvino")}
    assert set(rows) == {(b, n) for b in ("torch", "openvino") for n in ("1", "2")}
    assert rows[("torch", "1")][3] == "1.00"  # the reference's ratio to itself
    for row in rows.values():
        assert float(row[2]) > 0 and float(row[6]) < 1e-4  # latency measured, answers equal to eager
    assert list((tmp_path / "runtime" / "onnx").glob("*.onnx"))


def test_bench_refuses_unknown_backends(capsys):
    assert main(["bench", "--model", "xs", "--backends", "tflite"]) == 2
    assert "unknown benchmark backend 'tflite'; valid: torch, torch-compile" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--batch-size", "1,0"], "--batch-size: expected positive integers separated by commas, got '1,0'"),
    (["--batch", "1"], "unrecognized arguments: --batch 1"),  # the old names are gone, not aliases
    (["--threads", "1"], "unrecognized arguments: --threads 1"),
])
def test_bench_flags_are_the_vocabulary(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--model", "xs", *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
