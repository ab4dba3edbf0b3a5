"""Stream inference on every backend: the continual X3D step exported to ONNX and OpenVINO IR with its states
explicit, run by ONNX Runtime and OpenVINO equal to the torch step over 300 steps; the loader, the engine
interface (step, initial_state) and the refusals that keep clip and stream models apart."""
from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import torch

from ar_core.cli import build_parser
from ar_core.data import SyntheticMotion
from ar_core.models.streaming import to_streaming
from ar_core.runtime import BackendUnavailable, InputShapeError, ModelFormatError, create_engine, open_model
from ar_core.runtime.export import export_checkpoint, export_openvino

from runtime_helpers import CLASSES, folder, metadata, onnx_file, trained_model

CROP, POOL, STEPS, STREAMS = 32, 6, 300, 2


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    yield


@cache
def weights_file():
    """The trained X3D-XS's weights with metadata at a small crop (fully convolutional: any crop runs)."""
    path = folder() / "stream-weights" / "x3d_xs.pth"
    path.parent.mkdir()
    torch.save(trained_model().state_dict(), path)
    metadata().replace(crop=CROP).write_json(path.with_suffix(".json"))
    return path


@cache
def stream_onnx():
    (path,) = export_checkpoint(weights_file(), "onnx", folder() / "stream-onnx", inference="stream",
                                pool_frames=POOL).files
    return path


@cache
def stream_openvino():
    return export_openvino(stream_onnx(), None, folder() / "stream-openvino" / "x3d_xs-stream.xml")


@cache
def stream_frames() -> np.ndarray:
    """Two SyntheticMotion videos of STEPS frames (classes 0 and 1), as (STEPS, STREAMS, 3, CROP, CROP)."""
    data = SyntheticMotion(STREAMS, CLASSES, frames=STEPS, size=CROP, seed=11, clip_seconds=STEPS / 2.5)
    videos = np.stack([data[i][0].numpy() for i in range(STREAMS)])  # (B, 3, T, S, S)
    return np.ascontiguousarray(videos.transpose(2, 0, 1, 3, 4))


def test_stream_export_describes_its_step():
    source = open_model(stream_onnx())
    stream = to_streaming(trained_model(), POOL)
    meta = source.metadata
    assert source.kind == "onnx" and stream_onnx().name == "x3d_xs-stream.onnx"
    assert meta.inference == "stream" and meta.crop == CROP and meta.classes == metadata().classes
    assert meta.stream.pool_frames == POOL
    assert meta.stream.warmup_frames == stream.warmup_frames == stream.receptive_field - 1 == 1 + 4 + 52 + POOL - 2
    assert meta.stream.state_names == stream.state_names()
    assert meta.stream.state_shapes == stream.state_shapes(CROP, CROP)

    import onnx

    graph = onnx.load(str(stream_onnx()), load_external_data=False).graph
    count = len(meta.stream.state_shapes)
    assert [i.name for i in graph.input] == ["frame", *(f"state_in_{k}" for k in range(count))]
    assert [o.name for o in graph.output] == ["probabilities", *(f"state_out_{k}" for k in range(count))]
    for value, shape in zip(graph.input, [meta.frame_shape, *meta.stream.state_shapes]):
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param and not dims[0].HasField("dim_value"), f"{value.name}: batch axis not dynamic"
        assert tuple(d.dim_value for d in dims[1:]) == tuple(shape)
    assert open_model(stream_openvino()).metadata == meta


def test_onnxruntime_and_openvino_steps_equal_the_torch_step_over_300_steps():
    engines = [create_engine(weights_file(), "torch", inference="stream", pool_frames=POOL),
               create_engine(stream_onnx(), "onnxruntime"), create_engine(stream_openvino(), "openvino")]
    assert [e.backend for e in engines] == ["torch", "onnxruntime", "openvino"]
    states = [engine.initial_state(STREAMS) for engine in engines]
    worst = {engine.backend: 0.0 for engine in engines[1:]}
    outputs = []
    for frames in stream_frames():
        steps = [engine.step(frames, state) for engine, state in zip(engines, states)]
        states = [new_states for _, new_states in steps]  # each backend carries its own states
        reference = steps[0][0]
        assert reference.shape == (STREAMS, CLASSES) and reference.dtype == np.float32
        for engine, (probabilities, _) in zip(engines[1:], steps[1:]):
            worst[engine.backend] = max(worst[engine.backend], float(np.abs(probabilities - reference).max()))
        outputs.append(reference)
    print(f"max |step - torch step| over {STEPS} steps: {worst}")
    assert all(diff <= 1e-4 for diff in worst.values()), worst
    warm = np.stack(outputs[engines[0].metadata.stream.warmup_frames:])
    assert warm.std(axis=0).max() > 1e-3, "the outputs should change over the stream"
    for engine in engines:
        engine.close()


def test_openvino_keeps_the_states_inside_and_a_stream_moves_between_backends():
    """OpenVINO holds each stream's states in its request's variables (ResidentStates): the same object comes
    back from every step; arrays() copies them out equal to ONNX Runtime's, and either backend carries on
    from the other's arrays with the same outputs."""
    from ar_core.runtime.base import ResidentStates

    ort, ov = create_engine(stream_onnx(), "onnxruntime"), create_engine(stream_openvino(), "openvino")
    ort_states, ov_states = ort.initial_state(STREAMS), ov.initial_state(STREAMS)
    assert isinstance(ov_states, ResidentStates) and ov_states.batch == STREAMS
    assert all(not a.any() for a in ov_states.arrays())  # the zeros of the warm-up policy
    frames = stream_frames()
    for t in range(80):
        _, ort_states = ort.step(frames[t], ort_states)
        _, same = ov.step(frames[t], ov_states)
        assert same is ov_states
    copied = ov_states.arrays()
    assert [a.shape for a in copied] == [a.shape for a in ort_states]
    assert max(float(np.abs(a - b).max()) for a, b in zip(copied, ort_states)) <= 1e-4
    moved_to_ov, moved_to_ort = list(ort_states), copied  # each continues from the other's states
    for t in range(80, 90):
        p_ort, ort_states = ort.step(frames[t], ort_states)
        p_ov, moved_to_ov = ov.step(frames[t], moved_to_ov)
        p_back, moved_to_ort = ort.step(frames[t], moved_to_ort)
        assert np.abs(p_ov - p_ort).max() <= 1e-4 and np.abs(p_back - p_ort).max() <= 1e-4
    other = create_engine(stream_openvino(), "openvino")
    with pytest.raises(InputShapeError, match="these states live in"):
        other.step(frames[0], ov_states)
    with pytest.raises(InputShapeError, match="states of 2 streams, frames of 1"):
        ov.step(frames[0][:1], ov_states)
    for engine in (ort, ov, other):
        engine.close()


def test_the_torch_engine_step_is_the_streaming_modules_step():
    engine = create_engine(weights_file(), "torch", inference="stream", pool_frames=POOL)
    stream = to_streaming(trained_model(), POOL)
    states = engine.initial_state(STREAMS)
    frames = stream_frames()
    for t in range(stream.warmup_frames + 3):
        probabilities, states = engine.step(frames[t], states)
        expected = stream.step(torch.from_numpy(frames[t]))
        assert (expected is None) == (t < engine.metadata.stream.warmup_frames)
        if expected is not None:
            assert np.abs(probabilities - expected.numpy()).max() <= 1e-6


def test_clip_and_stream_models_refuse_each_others_calls():
    stream = create_engine(stream_onnx(), "onnxruntime")
    with pytest.raises(ModelFormatError, match="runs a stream model.*step"):
        stream.predict(np.zeros((1, 3, 4, CROP, CROP), np.float32))
    clip = create_engine(onnx_file(), "onnxruntime")
    with pytest.raises(ModelFormatError, match="runs a clip model.*inference='stream'"):
        clip.step(np.zeros((1, 3, 64, 64), np.float32), [])
    with pytest.raises(ModelFormatError, match="no stream state"):
        clip.initial_state(1)
    states = stream.initial_state(1)
    with pytest.raises(InputShapeError, match=r"step takes frames \(B, 3, 32, 32\)"):
        stream.step(np.zeros((1, 3, 40, 40), np.float32), states)
    with pytest.raises(InputShapeError, match=f"step takes {len(states)} states"):
        stream.step(np.zeros((1, 3, CROP, CROP), np.float32), states[:-1])
    with pytest.raises(InputShapeError, match="state 0 .*for 2 streams"):
        stream.step(np.zeros((2, 3, CROP, CROP), np.float32), states)


def test_the_pool_of_an_export_comes_from_its_metadata():
    assert create_engine(stream_onnx(), "onnxruntime", pool_frames=POOL).metadata.stream.pool_frames == POOL
    with pytest.raises(ModelFormatError, match=f"exported with a {POOL}-frame pool; pool_frames=8"):
        create_engine(stream_onnx(), "onnxruntime", pool_frames=8)
    with pytest.raises(ModelFormatError, match="is a stream model.*cannot run clips"):
        create_engine(stream_onnx(), "onnxruntime", inference="clip")
    with pytest.raises(ModelFormatError, match="is a clip export; stream inference needs"):
        create_engine(onnx_file(), "onnxruntime", inference="stream")
    with pytest.raises(ValueError, match="applies to stream inference"):
        create_engine(weights_file(), "torch", pool_frames=8)
    with pytest.raises(ValueError, match="pool_frames must be an integer >= 1, got 0"):
        create_engine(weights_file(), "torch", inference="stream", pool_frames=0)
    with pytest.raises(ValueError, match="inference must be one of clip, stream"):
        create_engine(weights_file(), "torch", inference="clips")


def test_tensorrt_refuses_stream_models_saying_why():
    with pytest.raises(BackendUnavailable, match="TensorRT engines here run clip models only.*onnxruntime"):
        export_checkpoint(weights_file(), "tensorrt", folder() / "stream-trt", inference="stream")


def test_export_takes_inference_and_pool_frames_from_the_stream_schema():
    from ar_core.stream.settings import EXPORT, from_arguments

    args = build_parser().parse_args(["export", "--weights", "w.pth", "--format", "openvino", "--inference",
                                      "stream", "--pool-frames", "16", "--out", "out"])
    assert (from_arguments(args, EXPORT).inference, from_arguments(args, EXPORT).pool_frames) == ("stream", 16)
    defaults = from_arguments(build_parser().parse_args(["export", "--weights", "w", "--format", "onnx", "--out", "o"]),
                              EXPORT)
    assert (defaults.inference, defaults.pool_frames) == ("clip", 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_the_torch_step_on_cuda_equals_the_cpu_step():
    cpu = create_engine(weights_file(), "torch", device="cpu", inference="stream", pool_frames=POOL)
    cuda = create_engine(weights_file(), "torch", device="cuda", inference="stream", pool_frames=POOL)
    states = [cpu.initial_state(STREAMS), cuda.initial_state(STREAMS)]
    for frames in stream_frames()[:100]:
        (p_cpu, states[0]), (p_cuda, states[1]) = cpu.step(frames, states[0]), cuda.step(frames, states[1])
        assert np.abs(p_cpu - p_cuda).max() <= 1e-4
