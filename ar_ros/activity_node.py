"""activity_node: camera images in, vision_msgs/Classification out.

A managed (lifecycle) node: configure loads the model, activate subscribes, deactivate unsubscribes, cleanup
releases the model. With `autostart` (default) it configures and activates itself. All clip and model logic is
ar_core's (`ClipAssembler`, `Classifier`, `open_session`); this file is wiring.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data)
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import SetBool

from ar_core.session import WeightsNotFound, open_session
from ar_core.stream.image import ImageError, rgb_to_image_fields
from ar_core.stream.latency import LatencyStats
from ar_core.stream.overlay import draw_labels
from ar_core.stream.pipeline import ClipAssembler, Classifier, Prediction

from . import messages
from .image_conversion import ImageConverter
from .inference_worker import InferenceWorker


@dataclass(frozen=True)
class Param:
    name: str
    default: object
    description: str
    runtime: bool = False  # may change while running


PARAMS = (
    Param("model", "xs", "X3D size: xs, s, m or l"),
    Param("weights", "", "weights (.pth/.pyth), exported model (.onnx/.xml/.engine) or a saved learner directory; "
                         "empty: the official checkpoint for `model` from the download cache (ar-core download)"),
    Param("backend", "torch", "inference runtime: torch, torch-compile, onnxruntime, openvino, tensorrt or auto"),
    Param("device", "cpu", "cpu, cuda or cuda:N"),
    Param("labels", "", "class-name file (one per line); empty: the model's own class names"),
    Param("top_k", 5, "number of classes published per clip", runtime=True),
    Param("score_threshold", 0.0, "classes scoring below this are left out", runtime=True),
    Param("hop", 1, "run the model every `hop` sampled frames", runtime=True),
    Param("smoothing", 1, "average scores over the last N clips (1: no smoothing)", runtime=True),
    Param("num_threads", 0, "CPU threads for inference (0: the runtime's default)"),
    Param("max_rate_hz", 0.0, "at most this many inferences per second (0: no limit)", runtime=True),
    Param("image_transport", "raw", "raw (sensor_msgs/Image on `image`) or compressed (`image/compressed`)"),
    Param("qos_reliability", "best_effort", "image subscription reliability: best_effort (sensor data) or reliable"),
    Param("autostart", True, "configure and activate on start, without a lifecycle manager"),
)
THROTTLE_S = 5.0


class ActivityNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("activity_node", **kwargs)
        for p in PARAMS:
            self.declare_parameter(p.name, p.default, ParameterDescriptor(description=p.description,
                                                                          read_only=not p.runtime))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.session = None
        self.worker: InferenceWorker | None = None
        self.enabled = True
        self._stats_lock = threading.Lock()
        self._reset_stats()
        self.converter = ImageConverter()
        self.enable_srv = self.create_service(SetBool, "~/enable", self._on_enable)

    # ---------------------------------------------------------------- parameters
    def param(self, name: str):
        return self.get_parameter(name).value

    def _on_set_parameters(self, params) -> SetParametersResult:
        for p in params:
            if p.name in ("top_k", "hop", "smoothing") and p.value < 1:
                return SetParametersResult(successful=False, reason=f"{p.name} must be >= 1")
            if p.name in ("score_threshold", "max_rate_hz") and p.value < 0:
                return SetParametersResult(successful=False, reason=f"{p.name} must be >= 0")
        if self.session is not None:  # push the new values into the running pipeline
            for p in params:
                if p.name == "top_k":
                    self.classifier.top_k = p.value
                elif p.name == "score_threshold":
                    self.classifier.score_threshold = p.value
                elif p.name == "smoothing":
                    self.classifier.smoother.windows = p.value
                elif p.name == "hop":
                    self.assembler.buffer.hop = p.value
                elif p.name == "max_rate_hz":
                    self.assembler.max_rate_hz = p.value
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.session = open_session(self.param("model"), self.param("weights"), self.param("backend"),
                                        self.param("device"), self.param("num_threads"), self.param("labels"))
        except (WeightsNotFound, ValueError, RuntimeError, ImportError) as err:
            self.get_logger().error(f"cannot load the model: {err}")
            return TransitionCallbackReturn.FAILURE
        self.assembler = ClipAssembler(self.session.clip_spec, self.param("hop"), self.param("max_rate_hz"))
        self.classifier = Classifier(self.session.engine, self.session.labels, self.param("top_k"),
                                     self.param("score_threshold"), self.param("smoothing"))
        self.classification_pub = self.create_lifecycle_publisher(messages.ClassificationMsg, "~/classification", 10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.label_info_pub = self.create_lifecycle_publisher(messages.LabelInfo, "~/label_info", latched) \
            if messages.LabelInfo else None
        self.overlay_pub = self.create_lifecycle_publisher(Image, "~/overlay", qos_profile_sensor_data)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        spec = self.session.clip_spec
        self.get_logger().info(
            f"X3D-{self.param('model').upper()} from {self.session.weights} on {self.param('backend')}/"
            f"{self.param('device')}: {spec.frames} frames every {spec.interval_s:.3f} s, {spec.crop}px, "
            f"{len(self.session.labels)} classes, images via {self.converter.backend}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._reset_stats()
        self.assembler.clear()
        self.classifier.smoother.clear()
        self.worker = InferenceWorker(self._classify, self._on_worker_error)
        compressed = self.param("image_transport") == "compressed"
        qos = qos_profile_sensor_data if self.param("qos_reliability") != "reliable" else QoSProfile(depth=10)
        self.image_sub = self.create_subscription(CompressedImage if compressed else Image,
                                                  "image/compressed" if compressed else "image",
                                                  self._on_compressed if compressed else self._on_image, qos)
        self.diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics)
        result = super().on_activate(state)
        if self.label_info_pub:
            self.label_info_pub.publish(messages.label_info(self._header(self.get_clock().now().to_msg(), ""),
                                                            self.session.labels, self.param("score_threshold")))
        self.get_logger().info(f"listening on {self.image_sub.topic_name}")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.destroy_subscription(self.image_sub)
        self.destroy_timer(self.diagnostics_timer)
        self.worker.stop()
        self.worker = None
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        for pub in (self.classification_pub, self.label_info_pub, self.overlay_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self.destroy_publisher(self.diagnostics_pub)
        self.session.close()  # frees the engine (and GPU memory)
        self.session = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.worker is not None:
            self.worker.stop()
        if self.session is not None:
            self.session.close()
        return TransitionCallbackReturn.SUCCESS

    def _on_enable(self, request, response):
        self.enabled = bool(request.data)
        if not self.enabled and self.session is not None:
            self.assembler.clear()  # resume with a fresh clip, not one with a gap in it
        response.success, response.message = True, "inference " + ("enabled" if self.enabled else "paused")
        return response

    # ---------------------------------------------------------------- frames (subscription thread)
    def _on_image(self, msg: Image) -> None:
        self._on_frame(msg, self.converter.image, (msg.width, msg.height))

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._on_frame(msg, self.converter.compressed, None)

    def _on_frame(self, msg, convert, size) -> None:
        with self._stats_lock:
            self.stats["received"] += 1
            self.arrivals.append(time.monotonic())
        if not self.enabled:
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        restarts = (self.assembler.buffer.resets, self.assembler.size_changes)
        wanted = self.assembler.wants(stamp, size)
        if self.assembler.size_changes != restarts[1]:
            self._warn(f"image size changed to {size[0]}x{size[1]}: clip restarted")
        if not wanted:
            self._note_time_jump(restarts[0])
            return
        start = time.perf_counter()
        try:
            rgb = convert(msg)
        except ImageError as err:
            with self._stats_lock:
                self.stats["bad_messages"] += 1
            self.get_logger().error(f"bad image message: {err}", throttle_duration_sec=THROTTLE_S)
            return
        clip = self.assembler.push(stamp, rgb, msg.header.frame_id)
        with self._stats_lock:
            self.preprocess_s.append(time.perf_counter() - start)
        self._note_time_jump(restarts[0])
        if clip is not None:
            self.worker.submit((clip, rgb, msg.header))  # the clip ends at this frame: its exact stamp

    def _note_time_jump(self, resets_before: int) -> None:
        if self.assembler.buffer.resets != resets_before:
            self._warn("image stamps went backwards (bag loop?): clip buffer cleared")

    # ---------------------------------------------------------------- inference (worker thread)
    def _classify(self, item) -> None:
        clip, rgb, header = item
        prediction = self.classifier(clip)
        self.classification_pub.publish(messages.classification(header, prediction.top))
        latency = self.get_clock().now().nanoseconds * 1e-9 - prediction.stamp
        with self._stats_lock:
            self.stats["published"] += 1
            self.latency.add(latency, prediction.compute_s)
        if self.overlay_pub.get_subscription_count() > 0:
            self._publish_overlay(header, rgb, prediction)

    def _publish_overlay(self, header, rgb: np.ndarray, prediction: Prediction) -> None:
        lines = [f"{r.label}: {r.score:.2f}" for r in prediction.top[:3]]
        step, data = rgb_to_image_fields(draw_labels(rgb, lines), "rgb8")
        self.overlay_pub.publish(Image(header=header, height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8",
                                       step=step, data=data))

    def _on_worker_error(self, err: Exception) -> None:
        with self._stats_lock:
            self.stats["inference_errors"] += 1
        self.get_logger().error(f"inference failed: {err}", throttle_duration_sec=THROTTLE_S)

    # ---------------------------------------------------------------- diagnostics
    def _reset_stats(self) -> None:
        with self._stats_lock:
            self.stats = dict(received=0, bad_messages=0, published=0, inference_errors=0)
            self.arrivals: list[float] = []
            self.latency = LatencyStats()
            self.preprocess_s: deque[float] = deque(maxlen=300)  # conversion + preprocessing of sampled frames

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self._stats_lock:
            self.arrivals = [t for t in self.arrivals if now - t <= 1.0]
            values = dict(self.stats, input_fps=len(self.arrivals),
                          clips_dropped=self.worker.dropped if self.worker else 0,
                          rate_limited=self.assembler.rate_limited, buffer_resets=self.assembler.buffer.resets,
                          size_changes=self.assembler.size_changes, **self.latency.summary_ms())
            if self.preprocess_s:
                values["preprocess_ms"] = 1e3 * sum(self.preprocess_s) / len(self.preprocess_s)
        level = DiagnosticStatus.OK
        message = "running" if self.enabled else "paused"
        if values["bad_messages"] or values["inference_errors"]:
            level, message = DiagnosticStatus.WARN, "bad messages or failed inferences (see values)"
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: activity recognition", message=message,
                                  hardware_id=str(self.param("device")),
                                  values=[KeyValue(key=k, value=f"{v:.1f}" if isinstance(v, float) else str(v))
                                          for k, v in values.items()])
        self.diagnostics_pub.publish(DiagnosticArray(header=self._header(self.get_clock().now().to_msg(), ""),
                                                     status=[status]))

    def _warn(self, text: str) -> None:
        self.get_logger().warning(text, throttle_duration_sec=THROTTLE_S)

    @staticmethod
    def _header(stamp, frame_id: str) -> Header:
        return Header(stamp=stamp, frame_id=frame_id)


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = ActivityNode()
    try:
        if node.param("autostart"):
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("configure failed: exiting (see the error above)")
                return 1
            node.trigger_activate()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
