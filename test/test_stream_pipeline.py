"""ActivityStream, the one frame path, on a real X3D-XS engine: what it converts, when it restarts, what it counts."""
import numpy as np
import pytest

from ar_core.stream.image import ImageError
from ar_core.stream.pipeline import BAD_FRAME, SIZE_CHANGE, TIME_JUMP, ActivityStream
from ar_core.stream.settings import INFER, SettingsError, load_settings

from bag_helpers import make_model

INTERVAL = 0.4  # X3D-XS: every 12th frame of a 30 fps video


@pytest.fixture(scope="module")
def weights(tmp_path_factory, one_torch_thread):
    return make_model(tmp_path_factory.mktemp("model"), crop=32)


@pytest.fixture
def stream(weights):
    events = []
    stream = ActivityStream.open(load_settings(INFER, overrides=dict(weights=str(weights), num_threads=1)),
                                 lambda kind, text: events.append(kind))
    stream.events = events
    yield stream
    stream.close()


def frame(width=48, height=40, value=90):
    return np.full((height, width, 3), value, np.uint8)


def test_only_sampled_frames_are_converted(stream):
    converted = []

    def convert(message):
        converted.append(message)
        return frame()

    stamps = [10 + i / 30 for i in range(60)]  # 2 s at 30 fps: samples at 10.0, 10.4, ..., 11.6
    predictions = [p for i, t in enumerate(stamps) if (p := stream.process(t, i, "cam", convert=convert))]
    assert converted == [0, 12, 24, 36, 48]
    assert [p.stamp for p in predictions] == pytest.approx([10 + 3 * INTERVAL, 10 + 4 * INTERVAL])
    counters = stream.counters.summary()
    assert (counters["frames"], counters["sampled"], counters["predictions"]) == (60, 5, 2)
    assert counters["preprocess_ms"] > 0


def test_size_changes_and_time_jumps_restart_the_clip_and_are_reported(stream):
    for i in range(4):
        stream.add_frame(i * INTERVAL, frame(), size=(48, 40))
    assert stream.add_frame(4 * INTERVAL, frame(64, 48), size=(64, 48)) is None  # a new clip starts here
    assert stream.counters.size_changes == 1 and SIZE_CHANGE in stream.events
    clips = [stream.add_frame((5 + i) * INTERVAL, frame(64, 48), size=(64, 48)) for i in range(3)]
    assert clips[-1] is not None and clips[-1].stamps[0] == pytest.approx(4 * INTERVAL)
    assert stream.add_frame(0.0, frame(64, 48)) is None  # the bag started over
    assert stream.counters.buffer_resets == 1 and TIME_JUMP in stream.events


def test_a_frame_that_cannot_be_converted_is_counted_not_raised(stream):
    def broken(message):
        raise ImageError("unsupported encoding 'bayer_rggb8'")

    assert stream.add_frame(0.0, "message", convert=broken) is None
    assert stream.counters.bad_messages == 1 and stream.events == [BAD_FRAME]


def test_update_changes_runtime_settings_only_and_checks_them(stream):
    stream.update(top_k=1, hop=2, max_rate_hz=0.5)
    assert (stream.settings.top_k, stream.settings.hop) == (1, 2)
    with pytest.raises(ValueError, match="model cannot change while running"):
        stream.update(model="s")
    with pytest.raises(SettingsError, match="smoothing must be >= 1"):
        stream.update(smoothing=0)
    predictions = [p for i in range(20) if (p := stream.process(i * INTERVAL, frame()))]
    # hop 2 gives a clip every 0.8 s; at most one per 2 s of camera time passes max_rate_hz 0.5.
    assert len(predictions) >= 2 and all(len(p.top) == 1 for p in predictions)
    assert min(np.diff([p.stamp for p in predictions])) >= 2.0 - 1e-9
    assert stream.counters.rate_limited > 0


@pytest.fixture
def stepping(weights):
    stream = ActivityStream.open(load_settings(INFER, overrides=dict(weights=str(weights), num_threads=1,
                                                                      inference="stream", hop=3)))
    yield stream
    stream.close()


def test_stream_mode_steps_on_every_sample_and_publishes_every_hop_once_warm(stepping):
    engine, metadata = stepping.session.engine, stepping.session.metadata
    warmup = metadata.stream.warmup_frames
    assert stepping.streaming and 0 < warmup <= metadata.stream.receptive_field
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (40, 48, 3), np.uint8) for _ in range(warmup + 10)]
    published = [p for i, rgb in enumerate(frames) if (p := stepping.process(i * INTERVAL, rgb))]

    # The same steps by hand: every frame preprocessed and stepped, the state carried along.
    from ar_core.stream.preprocess import FramePreprocessor

    preprocess = FramePreprocessor(metadata.crop, metadata.crop, metadata.mean, metadata.std)
    state, outputs = engine.initial_state(1), []
    for rgb in frames:
        scores, state = engine.step(preprocess(rgb)[None].numpy(), state)
        outputs.append(scores[0])
    expected = list(range(warmup, len(frames), 3))  # the first warm step, then every 3rd
    assert [round(p.stamp / INTERVAL) for p in published] == expected
    for prediction, index in zip(published, expected):
        np.testing.assert_allclose(prediction.scores, outputs[index], atol=1e-6)
    assert not stepping.warming_up

    stepping.update(hop=1)  # thins publishing only: every later sample is still one step
    assert stepping.process(len(frames) * INTERVAL, frames[0]) is not None
    stepping.add_frame(0.0, frames[0])  # stamps went backwards: the state starts over, warm-up again
    assert stepping.counters.buffer_resets == 1
    assert all(stepping.process((1 + i) * INTERVAL, rgb) is None for i, rgb in enumerate(frames[:warmup - 1]))
    assert stepping.warming_up
