"""Node in the loop: the bag published over DDS into a real activity_node process agrees with bag-eval."""
import json

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from ar_core.bags.evaluate import evaluate_bag
from ar_core.stream.settings import BAG_EVAL, load_settings
from ar_ros.bag_replay import CLASSIFICATION_TOPIC, bag_replay, classification_typestore

from bag_helpers import TOPIC, make_labelled_bag, make_model


@pytest.mark.parametrize("storage,compressed", [("mcap", False), ("sqlite3", True)])
def test_replay_through_the_node_agrees_with_bag_eval(tmp_path, storage, compressed):
    weights = make_model(tmp_path / "model")
    bag = make_labelled_bag(tmp_path, [0, 1], seconds_each=2.0, storage=storage, compressed=compressed)
    settings = load_settings(BAG_EVAL, "config/x3d_xs.yaml", dict(weights=str(weights), num_threads=1, top_k=4))
    offline = evaluate_bag(bag.path, TOPIC, bag.truth, settings, tmp_path / "offline", progress=False)
    replayed = bag_replay(bag.path, TOPIC, bag.truth, settings, tmp_path / "replay", rate=0.5, progress=False)

    assert replayed["complete"], replayed["error"]
    assert len(offline["predictions"]) >= 5
    assert [p["stamp"] for p in replayed["predictions"]] == pytest.approx([p["stamp"] for p in offline["predictions"]])
    assert [p["time_s"] for p in replayed["predictions"]] == pytest.approx([p["time_s"] for p in offline["predictions"]])
    for node, bag_eval in zip(replayed["predictions"], offline["predictions"]):
        assert [t["label"] for t in node["top"]] == [t["label"] for t in bag_eval["top"]]
        assert np.allclose([t["score"] for t in node["top"]], [t["score"] for t in bag_eval["top"]], atol=1e-5)
    assert replayed["accuracy"]["overall"] == offline["accuracy"]["overall"]
    assert replayed["latency"]["latency_p50_ms"] >= 0
    assert json.loads((tmp_path / "replay" / "report.json").read_text())["mode"] == "replay"

    # The recording is a real rosbag2 carrying the vision_msgs definitions.
    store = classification_typestore()
    with Reader(replayed["source"]["recorded_bag"]) as reader:
        [connection] = reader.connections
        assert connection.topic == CLASSIFICATION_TOPIC and connection.msgtype == "vision_msgs/msg/Classification"
        assert "ObjectHypothesis" in connection.msgdef.data
        recorded = [store.deserialize_cdr(raw, connection.msgtype) for _, _, raw in reader.messages()]
    assert [r.results[0].class_id for r in recorded] == [p["top"][0]["label"] for p in replayed["predictions"]]
