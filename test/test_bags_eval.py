"""`ar-core bag-eval` on real bags with a real X3D-XS: its predictions are the node pipeline's over the same
frames, its report adds up, and broken input gets clear errors or a partial report."""
import json
from collections import deque
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from ar_core.bags.evaluate import evaluate_bag, score_predictions, simulate_worker
from ar_core.bags.truth import Segment
from ar_core.cli import main
from ar_core.session import open_session
from ar_core.stream.clip_buffer import ClipBuffer
from ar_core.stream.image import decode_compressed, to_rgb
from ar_core.stream.pipeline import rank
from ar_core.stream.preprocess import FramePreprocessor
from ar_core.stream.settings import BAG_EVAL, load_settings

from bag_helpers import DELAY_S, TOPIC, cut, make_labelled_bag, make_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def session(weights):
    session = open_session("xs", weights, num_threads=1)
    yield session
    session.close()


def frames_by_rosbags(bag) -> list[tuple[float, np.ndarray]]:
    """(stamp, RGB) of every image, read with rosbags and the stream converters (not ar_core.bags.reader)."""
    store, out = get_typestore(Stores.ROS2_JAZZY), []
    with Reader(bag) as reader:
        for connection, _, raw in reader.messages():
            msg = store.deserialize_cdr(raw, connection.msgtype)
            rgb = decode_compressed(msg.format, msg.data) if hasattr(msg, "format") else \
                to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
            out.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, rgb))
    return out


def direct_predictions(frames, session, hop=1, smoothing=1, top_k=5):
    """The frame path built by hand from its parts: every frame offered to a ClipBuffer, sampled ones
    preprocessed, each clip through the engine, scores averaged over the last `smoothing` clips, ranked."""
    metadata = session.metadata
    buffer = ClipBuffer(metadata.frames, metadata.interval_s, hop)
    preprocess = FramePreprocessor(metadata.crop, metadata.crop, metadata.mean, metadata.std)
    history, predictions = deque(maxlen=smoothing), []
    for stamp, rgb in frames:
        if buffer.offer(stamp) and (clip := buffer.push(stamp, preprocess(rgb), "camera")) is not None:
            history.append(session.engine.predict(clip.tensor[None].numpy())[0])
            top = rank(np.mean(history, axis=0), session.labels, top_k)
            predictions.append(SimpleNamespace(stamp=clip.newest_stamp, top=top))
    return predictions


def run_cli(*args) -> int:
    return main(["bag-eval", "--topic", TOPIC, "--num-threads", "1", *map(str, args)])


def assert_same_predictions(reported, direct, bag):
    assert len(reported) == len(direct) > 0
    for got, want in zip(reported, direct):
        assert got["stamp"] == pytest.approx(want.stamp, abs=1e-9)
        assert got["time_s"] == pytest.approx(bag.time_s(want.stamp), abs=1e-6)  # bag time, not stamp
        assert [t["label"] for t in got["top"]] == [r.label for r in want.top]
        assert [t["score"] for t in got["top"]] == pytest.approx([r.score for r in want.top], rel=1e-6)
        assert got["ranked"][0] == want.top[0].label


def expected_accuracy(direct, bag):
    """Top-1 per segment and the count outside, computed here from the direct predictions."""
    segments = bag.segments
    per_segment, outside = [[] for _ in segments], 0
    for p in direct:
        t = bag.time_s(p.stamp)
        index = next((i for i, (start, end, _) in enumerate(segments) if start <= t < end), None)
        if index is None:
            outside += 1
        else:
            per_segment[index].append(p.top[0].label == segments[index][2])
    return [sum(hits) / len(hits) if hits else None for hits in per_segment], outside


@pytest.mark.parametrize("compressed", [False, True], ids=["Image", "CompressedImage"])
@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_bag_eval_reports_the_node_pipelines_predictions(tmp_path, weights, session, storage, compressed):
    bag = make_labelled_bag(tmp_path, [0, 1, 2], storage=storage, compressed=compressed)
    out = tmp_path / "report"
    assert run_cli("--bag", bag.path, "--truth", bag.truth, "--model", "xs", "--weights", weights, "--out", out) == 0
    report = json.loads((out / "report.json").read_text())

    frames = frames_by_rosbags(bag.path)
    direct = direct_predictions(frames, session)
    assert report["complete"] is True and report["error"] is None
    assert report["source"]["frames_read"] == len(bag.frames) and report["source"]["bad_messages"] == 0
    assert_same_predictions(report["predictions"], direct, bag)

    accuracy = report["accuracy"]
    per_segment, outside = expected_accuracy(direct, bag)
    assert outside > 0 and accuracy["overall"]["outside_segments"] == outside
    assert [s["top1"] for s in accuracy["segments"]] == pytest.approx(per_segment)
    assert [(s["start"], s["end"], s["label"], s["line"]) for s in accuracy["segments"]] == \
        [(start, end, label, line) for (start, end, label), line in zip(bag.segments, (3, 4, 5))]
    scored = accuracy["overall"]["predictions"]
    assert scored == len(direct) - outside == sum(map(sum, accuracy["confusion"]["matrix"]))
    assert accuracy["overall"]["top5"] == 1.0  # four classes: the truth is always among the best five
    assert accuracy["confusion"]["classes"][:3] == [label for _, _, label in bag.segments]

    latency = report["latency"]
    assert latency["clips"] == latency["engine_calls"] == len(direct) and latency["queue_capacity"] == 1
    # each result comes at least the recorder delay plus its compute time after its stamp
    assert latency["latency_p50_ms"] >= latency["compute_p50_ms"] + 1e3 * DELAY_S - 1e-6
    assert latency["compute_p50_ms"] <= latency["compute_p95_ms"] <= latency["compute_max_ms"]
    assert report["throughput"]["bag_frame_rate"] == pytest.approx(10.0, rel=0.01)
    assert report["throughput"]["frames_per_s"] > 0
    assert report["settings"]["weights_used"] == str(weights)

    for name in ("timeline.png", "confusion.png"):
        png = (out / name).read_bytes()
        assert png.startswith(PNG_SIGNATURE)
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100


def test_params_file_sets_the_pipeline_and_flags_override_it(tmp_path, weights, session):
    bag = make_labelled_bag(tmp_path, [3, 0], storage="mcap")
    params = tmp_path / "x3d_xs.yaml"
    params.write_text("/**:\n  ros__parameters:\n    model: xs\n    weights: \"\"\n    top_k: 2\n    hop: 2\n"
                      "    smoothing: 2\n    image_transport: raw\n")
    out = tmp_path / "report"
    assert run_cli("--bag", bag.path, "--truth", bag.truth, "--params", params, "--weights", weights,
                   "--top-k", 3, "--out", out) == 0
    report = json.loads((out / "report.json").read_text())
    settings = report["settings"]
    assert (settings["hop"], settings["smoothing"], settings["top_k"]) == (2, 2, 3)
    assert settings["params_file"] == str(params) and settings["weights"] == str(weights)
    frames = frames_by_rosbags(bag.path)
    direct = direct_predictions(frames, session, hop=2, smoothing=2, top_k=3)
    assert_same_predictions(report["predictions"], direct, bag)
    assert all(len(p["top"]) == 3 for p in report["predictions"])


def test_max_rate_skips_clips_in_bag_time(tmp_path, weights, session):
    bag = make_labelled_bag(tmp_path, [0, 1, 2], storage="mcap")
    settings = load_settings(BAG_EVAL, overrides=dict(weights=weights, num_threads=1, max_rate_hz=1.0))
    report = evaluate_bag(bag.path, TOPIC, bag.truth, settings, tmp_path / "report", progress=False)
    times = [p["time_s"] for p in report["predictions"]]
    assert min(np.diff(times)) >= 1.0 - 1e-6
    direct = {round(p.stamp, 6): p for p in direct_predictions(frames_by_rosbags(bag.path), session)}
    assert len(times) + report["source"]["rate_limited"] == len(direct) > len(times)
    for p in report["predictions"]:  # without smoothing, a kept clip scores as it does alone
        assert p["top"][0]["score"] == pytest.approx(direct[round(p["stamp"], 6)].top[0].score, rel=1e-6)


def test_images_that_cannot_be_converted_are_counted_and_skipped_as_the_node_does(tmp_path, weights, session):
    bag = make_labelled_bag(tmp_path, [0, 1], storage="mcap")
    broken, bad = tmp_path / "broken", 8  # frame 8 is due for sampling: the one after it is taken instead
    store = get_typestore(Stores.ROS2_JAZZY)
    with Reader(bag.path) as reader, Writer(broken, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(TOPIC, "sensor_msgs/msg/Image", typestore=store)
        for i, (_, bag_time_ns, raw) in enumerate(reader.messages()):
            msg = store.deserialize_cdr(raw, "sensor_msgs/msg/Image")
            msg.encoding = "bayer_rggb8" if i == bad else msg.encoding
            writer.write(connection, bag_time_ns, store.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    settings = load_settings(BAG_EVAL, overrides=dict(weights=str(weights), num_threads=1))
    report = evaluate_bag(broken, TOPIC, bag.truth, settings, tmp_path / "report", progress=False)
    assert report["complete"] and report["source"]["bad_messages"] == 1
    frames = frames_by_rosbags(bag.path)
    assert_same_predictions(report["predictions"], direct_predictions(frames[:bad] + frames[bad + 1:], session), bag)
    assert len(report["predictions"]) == len(direct_predictions(frames, session))


def test_a_cut_mcap_bag_keeps_a_partial_report(tmp_path, weights, session, capsys):
    bag = make_labelled_bag(tmp_path, [0, 1, 2], storage="mcap")
    whole = direct_predictions(frames_by_rosbags(bag.path), session)
    cut(bag.path, 0.6)
    out = tmp_path / "report"
    assert run_cli("--bag", bag.path, "--truth", bag.truth, "--weights", weights, "--out", out) == 1
    assert "cut short" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    read = report["source"]["frames_read"]
    assert report["complete"] is False and 0 < read < len(bag.frames)
    assert f"{read} messages read on {TOPIC}" in report["error"]
    assert f"the last at {report['source']['last_frame_s']:.3f} s into the bag" in report["error"]
    kept = [p for p in whole if bag.time_s(p.stamp) <= report["source"]["last_frame_s"] + 1e-6]
    assert 0 < len(kept) < len(whole)
    assert_same_predictions(report["predictions"], kept, bag)
    assert (out / "timeline.png").read_bytes().startswith(PNG_SIGNATURE)


def test_a_cut_sqlite3_bag_reports_that_nothing_could_be_read(tmp_path, weights):
    bag = make_labelled_bag(tmp_path, [0, 1], storage="sqlite3")
    cut(bag.path, 0.6)
    out = tmp_path / "report"
    assert run_cli("--bag", bag.path, "--truth", bag.truth, "--weights", weights, "--out", out) == 1
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is False and "cannot open the bag" in report["error"]
    assert report["source"]["frames_read"] == 0 and report["predictions"] == []


def test_bad_topic_or_truth_fail_with_exit_2_and_no_report(tmp_path, weights, capsys):
    bag = make_labelled_bag(tmp_path, [0], storage="mcap")
    out = tmp_path / "report"
    assert main(["bag-eval", "--bag", str(bag.path), "--topic", "/camera/rgb", "--truth", str(bag.truth),
                 "--weights", str(weights), "--out", str(out)]) == 2
    assert f"its topics: {TOPIC} (sensor_msgs/msg/Image)" in capsys.readouterr().err
    truth = tmp_path / "wrong.yaml"
    truth.write_text("segments:\n  - {start: 0, end: 1, label: move right}\n  - {start: 1, end: 2, label: dancing}\n")
    assert run_cli("--bag", bag.path, "--truth", truth, "--weights", weights, "--out", out) == 2
    assert "wrong.yaml: line 3: label 'dancing' is not a class of the model" in capsys.readouterr().err
    assert not out.exists()


def test_the_simulated_worker_queues_and_drops_like_the_node():
    # ready at 0, compute 0.3: busy until 0.3. Ready at 0.1 waits; 0.2 arrives before 0.3 and replaces it.
    # 0.2 starts at 0.3, ends 0.6; 1.0 finds the worker free.
    finished = simulate_worker([0.0, 0.1, 0.2, 1.0], [0.3, 0.3, 0.3, 0.3])
    assert finished[1] is None
    assert finished[0] == pytest.approx(0.3) and finished[2] == pytest.approx(0.6) and finished[3] == pytest.approx(1.3)
    assert simulate_worker([0.0, 0.5, 1.0], [0.1, 0.1, 0.1]) == pytest.approx([0.1, 0.6, 1.1])


def test_the_simulated_stream_worker_queues_steps_in_order_and_drops_the_oldest():
    # Stream mode: every step queues (capacity 2 here). Steps ready every 0.1 s take 0.25 s each: the queue
    # fills, and the oldest waiting one is dropped when a step arrives to a full queue.
    finished = simulate_worker([0.0, 0.1, 0.2, 0.3, 0.4], [0.25] * 5, capacity=2)
    # 0 runs 0-0.25; 1 and 2 wait; 1 starts at 0.25 (before 3 arrives at 0.3), ends 0.5; 2 and 3 wait;
    # 4 arrives at 0.4 to a full queue: 2 is dropped; 3 runs 0.5-0.75, then 4 0.75-1.0.
    assert finished[2] is None
    assert [finished[i] for i in (0, 1, 3, 4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert simulate_worker([0.0, 0.1, 0.2], [0.05] * 3, capacity=8) == pytest.approx([0.05, 0.15, 0.25])


def test_scoring_counts_segments_outside_and_confusion():
    segments = [Segment(0.0, 2.0, "a", 2), Segment(3.0, 5.0, "b", 3)]
    predictions = [(0.5, ["a", "b"]), (1.5, ["c", "a"]), (2.5, ["a"]), (3.5, ["b"]), (4.0, ["c", "d", "e", "f", "g", "b"])]
    scores = score_predictions(predictions, segments, ["d", "c", "b", "a"])
    assert scores["overall"] == {"predictions": 4, "top1": 0.5, "top5": 0.75, "outside_segments": 1}
    assert [(s["predictions"], s["top1"], s["top5"]) for s in scores["segments"]] == [(2, 0.5, 1.0), (2, 0.5, 0.5)]
    assert scores["confusion"] == {"classes": ["a", "b", "c"], "matrix": [[1, 0, 1], [0, 1, 1], [0, 0, 0]]}


def test_change_delays_count_from_each_activity_change_to_the_first_correct_prediction():
    from ar_core.bags.evaluate import change_delays

    segments = [Segment(0.0, 4.0, "a", 1), Segment(4.0, 6.0, "a", 2), Segment(6.0, 9.0, "b", 3),
                Segment(10.0, 12.0, "c", 4)]
    predictions = [(0.5, ["b"]), (1.0, ["a"]), (4.5, ["a"]), (6.2, ["a"]), (7.0, ["b", "a"]), (10.5, ["a"])]
    delays = change_delays(predictions, segments)
    # a at 0 s caught after 1.0 s, b at 6 s after 1.0 s; the a -> a boundary is no change; c is never caught.
    assert (delays["changes"], delays["never_correct"]) == (3, 1)
    assert delays["median_s"] == pytest.approx(1.0) and delays["p95_s"] == pytest.approx(1.0)


def test_compare_inference_reports_clip_and_stream_side_by_side(tmp_path, weights, capsys):
    bag = make_labelled_bag(tmp_path, [0, 1, 2, 3], seconds_each=8.0, storage="mcap")  # 32 s: stream warms up
    out = tmp_path / "both"
    assert run_cli("--bag", bag.path, "--truth", bag.truth, "--weights", weights, "--compare-inference",
                   "--out", out) == 0
    printed = capsys.readouterr().out
    comparison = json.loads((out / "comparison.json").read_text())
    assert set(comparison["modes"]) == {"clip", "stream"} and comparison["complete"]
    for mode in ("clip", "stream"):
        report = json.loads((out / mode / "report.json").read_text())
        summary = comparison["modes"][mode]
        assert report["summary"] == summary and summary["inference"] == mode and report["settings"]["inference"] == mode
        assert summary["predictions"] == len(report["predictions"]) > 0
        assert summary["compute_ms_per_prediction"] > 0 and summary["change_delay"]["changes"] == 4
        assert mode in printed
    clip, stream = comparison["modes"]["clip"], comparison["modes"]["stream"]
    # The stream publishes once warm (receptive field of ~60 samples, 0.4 s apart), the clip model from the 4th.
    assert clip["predictions"] > stream["predictions"]
    stream_report = json.loads((out / "stream" / "report.json").read_text())
    assert stream_report["predictions"][0]["time_s"] > 20.0
    # Latency is simulated over every step the worker runs (the warm-up's too), queued as the node queues them.
    latency = stream_report["latency"]
    assert latency["queue_capacity"] == 8 and latency["engine_calls"] > latency["clips"] == stream["predictions"]
    assert stream["latency_p50_ms"] == latency["latency_p50_ms"] > 0 and clip["latency_p50_ms"] > 0
    assert (out / "timeline.png").read_bytes().startswith(PNG_SIGNATURE)
