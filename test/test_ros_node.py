"""activity_node over real rclpy and Fast DDS: classifications, sampling by stamps, lifecycle, bad input."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool
from vision_msgs.msg import Classification, LabelInfo

from ar_ros.activity_node import ActivityNode
from ros_helpers import Probe, Spinner, image_msg, make_weights, moving_square, seconds, stamp, wait_for

CLASSIFICATION = "/activity_node/classification"
INTERVAL = 12 / 30  # X3D-XS samples every 12th frame of a 30 fps video: 0.4 s of camera time
T0 = 1000.0


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("weights") / "x3d_xs_random.pth")


class Running:
    """An activated node, a probe that feeds and watches it, and an executor spinning both."""

    def __init__(self, weights, **params):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        overrides = dict(weights=weights, qos_reliability="reliable", top_k=3, **params)
        self.node = ActivityNode(context=self.context,
                                 parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
        self.probe = Probe(self.context)
        self.probe.watch(Classification, CLASSIFICATION)
        self.probe.watch(DiagnosticArray, "/diagnostics")
        self.spinner = Spinner(self.context, self.node, self.probe)
        assert self.node.trigger_configure() is not None
        self.node.trigger_activate()
        if params.get("image_transport", "raw") == "raw":
            assert wait_for(lambda: self.probe.image_pub.get_subscription_count() > 0, 10)

    def send(self, msg, pause: float = 0.01):
        self.probe.image_pub.publish(msg)
        time.sleep(pause)

    def stream(self, frames: int, fps: float, start: float = T0, frame_id: str = "camera", size=(160, 120),
               paced: bool = False):
        """`frames` images at `fps` of camera time. paced: after each one, wait until the node has taken it and
        published every clip so far, so that a slow machine drops no clip (for the tests about which clips)."""
        received = self.node.stats["received"]
        for i in range(frames):
            self.send(image_msg(moving_square(i, fps, *size), start + i / fps, frame_id))
            if paced:
                assert wait_for(lambda: self.node.stats["received"] > received + i
                                and self.node.stats["published"] == self.node.stream.counters.clips, 30)

    def classifications(self):
        return self.probe.messages(CLASSIFICATION)

    def diagnostics(self) -> dict[str, str]:
        arrays = self.probe.messages("/diagnostics")
        return {kv.key: kv.value for kv in arrays[-1].status[0].values} if arrays else {}

    def close(self):
        self.spinner.stop()
        self.node.destroy_node()
        self.probe.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture
def running(weights):
    env = Running(weights)
    yield env
    env.close()


def test_classifications_carry_the_newest_frame_stamp_and_ranked_results(running):
    running.stream(frames=90, fps=30, paced=True)  # 3 s: 8 samples, clips from the 4th on
    assert wait_for(lambda: len(running.classifications()) >= 5)
    sampled = [T0 + k * INTERVAL for k in range(8)]
    for msg in running.classifications():
        assert msg.header.frame_id == "camera"
        assert any(abs(seconds(msg.header.stamp) - t) < 1e-6 for t in sampled), seconds(msg.header.stamp)
        scores = [r.score for r in msg.results]
        assert len(msg.results) == 3 and scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert all(isinstance(r.class_id, str) and r.class_id for r in msg.results)
    # The first clip is complete at the 4th sample; then one clip per sample (hop 1).
    stamps = [seconds(m.header.stamp) for m in running.classifications()]
    assert stamps[0] == pytest.approx(T0 + 3 * INTERVAL, abs=1e-6)
    assert np.allclose(np.diff(stamps), INTERVAL, atol=1e-6)


@pytest.mark.parametrize("fps", [15, 30])
def test_15_and_30_fps_streams_give_clips_of_the_same_duration(weights, fps):
    env = Running(weights, hop=2)
    try:
        env.stream(frames=int(3.2 * fps), fps=fps, paced=True)
        assert wait_for(lambda: len(env.classifications()) >= 2)
        stamps = [seconds(m.header.stamp) for m in env.classifications()]
        # Samples every 0.4 s of camera time whatever the fps: first clip ends at 1.2 s, then every 2 samples.
        assert stamps[0] == pytest.approx(T0 + 1.2, abs=1e-6)
        assert np.allclose(np.diff(stamps), 2 * INTERVAL, atol=1e-6)
    finally:
        env.close()


def test_stream_mode_publishes_every_hop_steps_once_warm_and_restarts_on_enable(weights):
    env = Running(weights, inference="stream", hop=2)
    try:
        warmup = env.node.stream.session.metadata.stream.warmup_frames
        assert wait_for(lambda: env.diagnostics().get("warming_up") == "True", 5)
        assert env.diagnostics()["inference"] == "stream"
        frames = warmup + 6  # one frame per sample (stamps 0.4 s apart): each is a step
        for i in range(frames):
            env.send(image_msg(moving_square(i, 2.5), T0 + i * INTERVAL), pause=0.08)
        assert wait_for(lambda: len(env.classifications()) >= 3)
        stamps = [seconds(m.header.stamp) for m in env.classifications()]
        # The first warm step, then every 2nd step; each message carries its frame's stamp.
        assert stamps == pytest.approx([T0 + k * INTERVAL for k in range(warmup, frames, 2)], abs=1e-6)
        assert env.diagnostics().get("warming_up") == "False" or wait_for(
            lambda: env.diagnostics().get("warming_up") == "False", 3)
        client = env.probe.create_client(SetBool, "/activity_node/enable")
        assert client.wait_for_service(timeout_sec=5)
        assert client.call(SetBool.Request(data=False)).success and client.call(SetBool.Request(data=True)).success
        before = len(env.classifications())
        for i in range(warmup - 5):  # the state was cleared: warming up again, nothing published
            env.send(image_msg(moving_square(i, 2.5), T0 + 100 + i * INTERVAL), pause=0.02)
        time.sleep(1.0)
        assert len(env.classifications()) == before
    finally:
        env.close()


def test_label_info_reaches_a_late_subscriber(running):
    time.sleep(0.5)
    running.probe.watch(LabelInfo, "/activity_node/label_info", latched=True)
    assert wait_for(lambda: running.probe.messages("/activity_node/label_info"), 10)
    info = running.probe.messages("/activity_node/label_info")[0]
    assert len(info.class_map) == 400
    assert (info.class_map[6].class_id, info.class_map[6].class_name) == (6, "arm wrestling")


def test_runtime_parameters_enable_service_and_lifecycle(running):
    node = running.node
    assert node.set_parameters([Parameter("top_k", value=2)])[0].successful
    assert not node.set_parameters([Parameter("hop", value=0)])[0].successful
    running.stream(frames=45, fps=30)
    assert wait_for(lambda: running.classifications() and len(running.classifications()[-1].results) == 2)

    client = running.probe.create_client(SetBool, "/activity_node/enable")
    assert client.wait_for_service(timeout_sec=5)
    assert client.call(SetBool.Request(data=False)).success
    before = len(running.classifications())
    running.stream(frames=45, fps=30, start=T0 + 10)
    time.sleep(1.0)
    assert len(running.classifications()) == before
    client.call(SetBool.Request(data=True))
    running.stream(frames=45, fps=30, start=T0 + 20)
    assert wait_for(lambda: len(running.classifications()) > before)

    node.trigger_deactivate()
    count = len(running.classifications())
    running.stream(frames=45, fps=30, start=T0 + 30)
    time.sleep(1.0)
    assert len(running.classifications()) == count
    node.trigger_cleanup()
    assert node.stream is None
    node.trigger_configure()
    node.trigger_activate()
    running.stream(frames=45, fps=30, start=T0 + 40)
    assert wait_for(lambda: len(running.classifications()) > count)


def _bad_messages(running) -> int:
    return int(running.diagnostics().get("bad_messages", -1))


def test_bad_messages_are_counted_and_the_node_keeps_running(running):
    good = moving_square(0, 30)
    t = [T0]

    def at(dt=INTERVAL):  # each bad message lands on a sample time so the node must look at it
        t[0] += dt
        return t[0]

    unknown = image_msg(good, at())
    unknown.encoding = "bayer_weird16"
    short = image_msg(good, at())
    short.data = bytes(short.data[:-7])
    zero = Image(header=Header(stamp=stamp(at()), frame_id="camera"), height=0, width=0, encoding="rgb8", step=0)
    for msg in (unknown, short, zero):
        running.send(msg, pause=0.05)
    assert wait_for(lambda: _bad_messages(running) == 3, 5)
    running.stream(frames=45, fps=30, start=at())
    assert wait_for(lambda: len(running.classifications()) >= 1)
    assert running.diagnostics()["input_fps"] is not None


def test_resolution_change_time_jump_and_4k(running):
    running.stream(frames=40, fps=30, start=T0)
    assert wait_for(lambda: len(running.classifications()) >= 1)
    n = len(running.classifications())
    # The bag loops: stamps jump back; the buffer restarts, so the next clip needs 4 fresh samples.
    running.stream(frames=40, fps=30, start=T0 - 100)
    assert wait_for(lambda: len(running.classifications()) > n)
    after_jump = [seconds(m.header.stamp) for m in running.classifications()[n:]]
    assert after_jump[0] == pytest.approx(T0 - 100 + 3 * INTERVAL, abs=1e-6)
    assert running.node.stream.counters.buffer_resets >= 1
    # Resolution change, up to 4K: handled, the clip restarts with frames of the new size.
    n = len(running.classifications())
    running.stream(frames=40, fps=30, start=T0 + 100, size=(3840, 2160))
    assert wait_for(lambda: len(running.classifications()) > n, 30)
    assert _bad_messages(running) in (0, -1)


def test_compressed_transport_and_a_corrupt_jpeg(weights):
    env = Running(weights, image_transport="compressed")
    try:
        pub = env.probe.create_publisher(CompressedImage, "/image/compressed", 50)
        assert wait_for(lambda: pub.get_subscription_count() > 0, 10)
        broken = CompressedImage(header=Header(stamp=stamp(T0 - 1), frame_id="camera"), format="jpeg",
                                 data=b"\xff\xd8\xff\xe0 definitely not a jpeg")
        pub.publish(broken)
        for i in range(40):
            ok, jpeg = cv2.imencode(".jpg", moving_square(i, 30))
            pub.publish(CompressedImage(header=Header(stamp=stamp(T0 + i / 30), frame_id="camera"), format="jpeg",
                                        data=jpeg.tobytes()))
            time.sleep(0.01)
        assert wait_for(lambda: len(env.classifications()) >= 1)
        assert wait_for(lambda: _bad_messages(env) == 1, 5)
    finally:
        env.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(encoding=st.sampled_from(["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "yuv422", "yuv422_yuy2",
                                 "16UC1", "", "jpeg"]),
       height=st.integers(0, 40), width=st.integers(0, 40), step=st.integers(0, 200),
       data=st.binary(max_size=4000), stamp_s=st.floats(-1e3, 1e6, allow_nan=False), bigendian=st.booleans())
def test_random_image_messages_never_kill_the_node(running, encoding, height, width, step, data, stamp_s, bigendian):
    """Calls the subscription callback directly (the code DDS would call) with arbitrary field combinations."""
    msg = Image(header=Header(stamp=stamp(abs(stamp_s)), frame_id="x"), height=height, width=width,
                encoding=encoding, step=step, is_bigendian=bigendian, data=data)
    running.node._on_image(msg)
    assert running.node.worker is not None and running.node.worker._thread.is_alive()


def test_separate_process_node_and_missing_weights(weights, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    missing = subprocess.run([sys.executable, "-m", "ar_ros.activity_node", "--ros-args", "-p",
                              f"weights:={tmp_path / 'nope.pth'}"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert missing.returncode != 0
    assert "weights not found" in missing.stderr + missing.stdout
    assert "Traceback" not in missing.stderr + missing.stdout

    no_cache = subprocess.run([sys.executable, "-m", "ar_ros.activity_node"], capture_output=True, text=True,
                              env=dict(env, AR_ROS_CACHE=str(tmp_path / "empty-cache")), timeout=60)
    assert no_cache.returncode != 0 and "ar-core download" in no_cache.stderr + no_cache.stdout

    node = subprocess.Popen([sys.executable, "-m", "ar_ros.activity_node", "--ros-args", "-p", f"weights:={weights}",
                             "-p", "qos_reliability:=reliable", "-r", "image:=/cam/image_raw"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    context = rclpy.Context()
    rclpy.init(context=context)
    probe = Probe(context, image_topic="/cam/image_raw")
    probe.watch(Classification, CLASSIFICATION)
    spinner = Spinner(context, probe)
    try:
        assert wait_for(lambda: probe.image_pub.get_subscription_count() > 0, 30), "node never subscribed"
        for i in range(40):
            probe.image_pub.publish(image_msg(moving_square(i, 30), T0 + i / 30, "cam"))
            time.sleep(0.02)
        assert wait_for(lambda: len(probe.messages(CLASSIFICATION)) >= 1, 30)
        assert probe.messages(CLASSIFICATION)[0].header.frame_id == "cam"
    finally:
        spinner.stop()
        probe.destroy_node()
        rclpy.shutdown(context=context)
        node.terminate()
        node.wait(10)
