"""GPU paths. The TensorRT engine-cache key and the INT8 calibration batching run anywhere; TensorRT engines,
ONNX Runtime's CUDA provider and torch on CUDA need a GPU, and those tests say why when they skip."""
import importlib.util
import logging

import numpy as np
import pytest
import torch

import runtime_helpers as helpers
from ar_core.runtime import InputShapeError, create_engine
from ar_core.runtime.calibration import CalibrationBatches
from ar_core.runtime.tensorrt_backend import engine_cache_key

DIGEST = "ab" * 32


def test_cache_key_names_model_gpu_version_precision_and_batch():
    key = engine_cache_key(DIGEST, "NVIDIA GeForce RTX 4090", "10.16.1.11", "fp16", 8)
    assert key == f"{DIGEST[:24]}-nvidia-geforce-rtx-4090-trt10.16.1.11-fp16-b8"
    assert "/" not in engine_cache_key(DIGEST, "Orin (nvgpu)/integrated", "10.3.0", "int8", 1)


@pytest.mark.parametrize("change", [
    dict(model_digest="cd" * 32), dict(gpu_name="NVIDIA A100-SXM4-40GB"), dict(tensorrt_version="10.15.1.29"),
    dict(precision="int8"), dict(max_batch=16),
])
def test_cache_key_changes_with_each_part(change):
    base = dict(model_digest=DIGEST, gpu_name="NVIDIA H100", tensorrt_version="10.16.1.11", precision="fp32",
                max_batch=8)
    assert engine_cache_key(**{**base, **change}) != engine_cache_key(**base)


def test_cache_key_refuses_unknown_precision():
    with pytest.raises(ValueError, match="unknown TensorRT precision 'fp8'"):
        engine_cache_key(DIGEST, "gpu", "10.0", "fp8", 8)


def clip(value: float, shape=(3, 4, 8, 8)) -> np.ndarray:
    return np.full(shape, value, np.float32)


def test_calibration_batches_are_fixed_size_in_order_and_drop_the_remainder(caplog):
    data = [(clip(i), i % 2) for i in range(11)]  # (clip, label) items, as datasets give them
    with caplog.at_level(logging.INFO, "ar_core.runtime"):
        batches = CalibrationBatches(data, batch_size=4)
    assert (len(batches), batches.num_samples) == (2, 8)
    seen = list(batches)
    assert [b.shape for b in seen] == [(4, 3, 4, 8, 8)] * 2
    assert all(b.dtype == np.float32 and b.flags.c_contiguous for b in seen)
    assert [float(b[i, 0, 0, 0, 0]) for b in seen for i in range(4)] == list(range(8))
    assert "calibration uses 8 of 11 clips" in caplog.text
    assert len(list(batches)) == 2  # iterable again: TensorRT and ORT each read from the start


def test_calibration_batches_take_tensors_arrays_and_a_cap():
    data = [torch.full((3, 4, 8, 8), float(i), dtype=torch.float64) for i in range(10)]
    batches = CalibrationBatches(data, batch_size=3, max_samples=7, input_shape=(3, 4, 8, 8))
    assert len(batches) == 2
    first = next(iter(batches))
    assert first.dtype == np.float32 and float(first[2].max()) == 2.0


def test_calibration_batches_refuse_too_few_clips_and_wrong_shapes():
    with pytest.raises(ValueError, match="at least one full batch of 8 clips, the dataset gives 5"):
        CalibrationBatches([clip(0)] * 5, batch_size=8)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        CalibrationBatches([clip(0)], batch_size=0)
    batches = CalibrationBatches([clip(0), clip(0, (3, 4, 16, 16))], batch_size=2, input_shape=(3, 4, 8, 8))
    with pytest.raises(InputShapeError, match=r"calibration clip 1 has shape \(3, 4, 16, 16\), the model expects "
                                              r"\(3, 4, 8, 8\)"):
        list(batches)


def require_gpu_tensorrt() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is False on this machine")
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("tensorrt is not installed (pip install -r requirements-gpu.txt)")


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-4), ("fp16", 1e-2)])
def test_tensorrt_matches_eager(precision, tolerance, tmp_path):
    require_gpu_tensorrt()
    with create_engine(helpers.onnx_file(), "tensorrt", device="cuda", precision=precision,
                       cache_dir=tmp_path) as engine:
        np.testing.assert_allclose(engine.predict(helpers.test_clips()), helpers.eager_probabilities(),
                                   atol=tolerance, rtol=0)
    assert len(list((tmp_path / "tensorrt").glob("*.engine"))) == 1  # cached for the next start


def test_tensorrt_int8_engine_agrees_on_top1(tmp_path):
    require_gpu_tensorrt()
    from ar_core.runtime.export import export_tensorrt

    calibration = CalibrationBatches(helpers.motion_clips(32, seed=3), batch_size=8,
                                     input_shape=helpers.metadata().input_shape)
    path = export_tensorrt(helpers.onnx_file(), None, tmp_path / "x3d_xs-int8.engine", int8=True,
                           calibration=calibration)
    clips = helpers.motion_clips(40, seed=11)
    batch = np.stack([clips[i][0].numpy() for i in range(len(clips))])
    with create_engine(path, "tensorrt", device="cuda") as engine, \
            create_engine(helpers.trained_model(), "torch", metadata=helpers.metadata()) as eager:
        agreement = (engine.predict(batch).argmax(1) == eager.predict(batch).argmax(1)).mean()
    assert agreement >= 0.95


def test_torch_cuda_matches_eager():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is False on this machine")
    for precision, tolerance in (("fp32", 1e-4), ("fp16", 1e-2)):
        with create_engine(helpers.trained_model(), "torch", device="cuda", metadata=helpers.metadata(),
                           precision=precision) as engine:
            for _ in range(2):  # the second call replays the captured CUDA graph
                np.testing.assert_allclose(engine.predict(helpers.test_clips()), helpers.eager_probabilities(),
                                           atol=tolerance, rtol=0)


def test_onnxruntime_cuda_matches_eager():
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip(f"no CUDA device: this onnxruntime offers {onnxruntime.get_available_providers()} "
                    f"(install onnxruntime-gpu on a CUDA machine)")
    with create_engine(helpers.onnx_file(), "onnxruntime", device="cuda") as engine:
        assert engine.device == "cuda"
        np.testing.assert_allclose(engine.predict(helpers.test_clips()), helpers.eager_probabilities(),
                                   atol=1e-4, rtol=0)
