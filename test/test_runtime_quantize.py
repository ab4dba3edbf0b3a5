"""INT8 through ONNX Runtime static quantization: same top-1 as fp32 on motion clips, on ORT and OpenVINO."""
from functools import cache

import numpy as np
import pytest

import runtime_helpers as helpers
from ar_core.runtime import create_engine
from ar_core.runtime.calibration import CalibrationBatches
from ar_core.runtime.quantize import compare_engines, quantize_onnx

MIN_AGREEMENT = 0.95


@cache
def int8_file():
    calibration = CalibrationBatches(helpers.motion_clips(32, seed=3), batch_size=8,
                                     input_shape=helpers.metadata().input_shape)
    return quantize_onnx(helpers.onnx_file(), helpers.folder() / "int8" / "x3d_xs-int8.onnx", calibration)


@cache
def validation():
    # Where the fp32 model is right and sure: held out, this cheap model scores at chance (SyntheticMotion is hard
    # for it), and agreement there counts flips between wrong answers of close calls, not quantization error.
    return helpers.training_clips()


def test_int8_file_is_qdq_and_describes_itself():
    import onnx

    ops = {node.op_type for node in onnx.load(str(int8_file())).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    with create_engine(int8_file(), "onnxruntime", num_threads=2) as engine:
        quantization = engine.metadata.extra["quantization"]
    assert quantization["calibration_clips"] == 32 and quantization["per_channel"] is True
    assert engine.metadata.replace(extra={}) == helpers.metadata()


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_int8_agrees_with_fp32_on_top1(backend):
    with create_engine(helpers.onnx_file(), "onnxruntime", num_threads=2) as fp32, \
            create_engine(int8_file(), backend, num_threads=2) as int8:
        report = compare_engines(fp32, int8, validation())
    assert report.samples == 64 and report.reference_accuracy >= 0.9
    assert report.top1_agreement >= MIN_AGREEMENT, str(report)
    assert 0 < report.max_abs_diff < 0.5  # really quantized, and no class swapped wholesale
    assert report.reference_accuracy is not None and report.quantized_accuracy is not None
    assert abs(report.quantized_accuracy - report.reference_accuracy) <= 1 - MIN_AGREEMENT
    assert "top-1 agreement with fp32" in str(report) and "points" in str(report)


def test_report_without_labels_has_no_accuracy():
    clips = [validation()[i][0].numpy() for i in range(4)]
    with create_engine(helpers.onnx_file(), "openvino", num_threads=2) as a, \
            create_engine(helpers.onnx_file(), "onnxruntime", num_threads=2) as b:
        report = compare_engines(a, b, clips, batch_size=3)
    assert (report.samples, report.top1_agreement) == (4, 1.0)
    assert report.reference_accuracy is None and "accuracy" not in str(report)
    assert report.max_abs_diff < 1e-4


def test_refusals(tmp_path):
    calibration = CalibrationBatches(helpers.motion_clips(8, seed=3), batch_size=8)
    with pytest.raises(ValueError, match="already quantized"):
        quantize_onnx(int8_file(), tmp_path / "again.onnx", calibration)
    with pytest.raises(ValueError, match=r"x3d_xs.xml holds x3d_xs.xml \(openvino\), not a model of kind onnx"):
        quantize_onnx(helpers.openvino_file(), tmp_path / "x.onnx", calibration)
    assert not (tmp_path / "again.onnx").exists()
    np.testing.assert_array_equal(sorted(p.name for p in tmp_path.iterdir()), [])
