"""vision_msgs built into the venv by `make setup` travel over real rclpy / Fast DDS between two processes."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from vision_msgs.msg import Classification, LabelInfo

DOMAIN_ID = 1 + os.getpid() % 101  # one domain per test run, so parallel runs do not hear each other
CLASSIFICATION_TOPIC = f"/vision_msgs_test_{os.getpid()}/classification"
LABEL_INFO_TOPIC = f"/vision_msgs_test_{os.getpid()}/label_info"
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
EXPECTED = {
    "classification": {"sec": 1700000000, "nanosec": 123456789, "frame_id": "camera_optical",
                       "results": [["waving hand", 0.75], ["clapping", 0.125]]},
    "label_info": {"sec": 1700000001, "nanosec": 5, "frame_id": "x3d_xs",
                   "class_map": [[0, "abseiling"], [399, "zumba"]], "threshold": 0.25},
}

# Runs in its own process: publishes LabelInfo once (latched), says "ready", then publishes Classification
# while anyone listens, until it is terminated (or 30 s pass, so it never outlives a dead test).
PUBLISHER = r"""
import json, sys, time
import rclpy
from builtin_interfaces.msg import Time
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from vision_msgs.msg import Classification, LabelInfo, ObjectHypothesis, VisionClass

classification_topic, label_info_topic, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c, l = expected["classification"], expected["label_info"]
rclpy.init()
node = rclpy.create_node("vision_msgs_publisher")
latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
node.create_publisher(LabelInfo, label_info_topic, latched).publish(LabelInfo(
    header=Header(stamp=Time(sec=l["sec"], nanosec=l["nanosec"]), frame_id=l["frame_id"]),
    class_map=[VisionClass(class_id=i, class_name=name) for i, name in l["class_map"]],
    threshold=l["threshold"]))
print("ready", flush=True)
classification_pub = node.create_publisher(Classification, classification_topic, 10)
classification = Classification(
    header=Header(stamp=Time(sec=c["sec"], nanosec=c["nanosec"]), frame_id=c["frame_id"]),
    results=[ObjectHypothesis(class_id=name, score=score) for name, score in c["results"]])
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if classification_pub.get_subscription_count():
        classification_pub.publish(classification)
    time.sleep(0.1)
"""


@pytest.fixture(scope="module")
def context():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # DDS traffic stays on loopback
        env.setenv("ROS_DOMAIN_ID", str(DOMAIN_ID))
        context = Context()
        rclpy.init(context=context, domain_id=DOMAIN_ID)
        yield context
        rclpy.shutdown(context=context)


@pytest.fixture(scope="module")
def publisher(context):
    """The publisher process, once it has published LabelInfo (so every subscriber here is a late one)."""
    process = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, CLASSIFICATION_TOPIC, LABEL_INFO_TOPIC, json.dumps(EXPECTED)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        ready, _, _ = select.select([process.stdout], [], [], 15)
        line = process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            process.kill()
            pytest.fail(f"publisher process did not start (stdout {line!r}):\n{process.communicate()[1]}")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def receive_one(context: Context, msg_type, topic: str, qos) -> object:
    """Subscribes now and spins until one message arrives (or fails after 15 s)."""
    received = []
    node = rclpy.create_node(f"vision_msgs_listener_{msg_type.__name__.lower()}", context=context)
    executor = SingleThreadedExecutor(context=context)
    try:
        node.create_subscription(msg_type, topic, received.append, qos)
        executor.add_node(node)
        deadline = time.monotonic() + 15
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        node.destroy_node()
    assert received, f"no {msg_type.__name__} on {topic} within 15 s (domain {DOMAIN_ID})"
    return received[0]


def test_classification_with_two_hypotheses_arrives_field_for_field(context, publisher):
    msg = receive_one(context, Classification, CLASSIFICATION_TOPIC, QoSProfile(depth=10))
    expected = EXPECTED["classification"]
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (expected["sec"], expected["nanosec"])
    assert msg.header.frame_id == expected["frame_id"]
    assert [[h.class_id, h.score] for h in msg.results] == expected["results"]


def test_label_info_reaches_a_late_subscriber_through_transient_local(context, publisher):
    msg = receive_one(context, LabelInfo, LABEL_INFO_TOPIC, LATCHED)
    expected = EXPECTED["label_info"]
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (expected["sec"], expected["nanosec"])
    assert msg.header.frame_id == expected["frame_id"]
    assert [[c.class_id, c.class_name] for c in msg.class_map] == expected["class_map"]
    assert msg.threshold == pytest.approx(expected["threshold"])
