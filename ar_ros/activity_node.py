"""activity_node: camera images in, vision_msgs/Classification out.

A managed (lifecycle) node: configure loads the model, activate subscribes, deactivate unsubscribes, cleanup
releases the model. With `autostart` (default) it configures and activates itself. Its parameters are the stream
settings schema's (ar_core.stream.settings) and every frame goes through one ar_core ActivityStream; this file is
wiring: QoS, threads, messages, diagnostics.
"""
from __future__ import annotations

import sys
import threading
import time

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

from ar_core.session import WeightsNotFound
from ar_core.stream.image import rgb_to_image_fields
from ar_core.stream.latency import LatencyStats
from ar_core.stream.overlay import draw_labels
from ar_core.stream.pipeline import BAD_FRAME, ActivityStream, Prediction
from ar_core.stream.settings import NODE, SettingsError, StreamSettings, settings_for

from . import messages
from .image_conversion import ImageConverter
from .inference_worker import InferenceWorker

THROTTLE_S = 5.0


class ActivityNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__("activity_node", **kwargs)
        for setting in settings_for(NODE):  # the parameters are the stream settings schema's
            self.declare_parameter(setting.name, setting.default,
                                   ParameterDescriptor(description=setting.description, read_only=not setting.runtime))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.stream: ActivityStream | None = None
        self.worker: InferenceWorker | None = None
        self.enabled = True
        self._stats_lock = threading.Lock()
        self._reset_stats()
        self.converter = ImageConverter()
        self.enable_srv = self.create_service(SetBool, "~/enable", self._on_enable)

    # ---------------------------------------------------------------- parameters
    def param(self, name: str):
        return self.get_parameter(name).value

    def settings(self) -> StreamSettings:
        return StreamSettings(NODE, {s.name: self.param(s.name) for s in settings_for(NODE)}, source="parameters")

    def _on_set_parameters(self, params) -> SetParametersResult:
        ours = {p.name: p.value for p in params if p.name in {s.name for s in settings_for(NODE)}}
        try:
            StreamSettings(NODE, {**self.settings(), **ours})  # every value checked by the schema
            if self.stream is not None:
                self.stream.update(**ours)  # only runtime parameters reach here: the others are read-only
        except (SettingsError, ValueError) as err:
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.stream = ActivityStream.open(self.settings(), self._on_stream_event)
        except (WeightsNotFound, ValueError, RuntimeError, ImportError) as err:
            self.get_logger().error(f"cannot load the model: {err}")
            return TransitionCallbackReturn.FAILURE
        self.classification_pub = self.create_lifecycle_publisher(messages.ClassificationMsg, "~/classification", 10)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.label_info_pub = self.create_lifecycle_publisher(messages.LabelInfo, "~/label_info", latched) \
            if messages.LabelInfo else None
        self.overlay_pub = self.create_lifecycle_publisher(Image, "~/overlay", qos_profile_sensor_data)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        session, metadata = self.stream.session, self.stream.session.metadata
        self.get_logger().info(
            f"{metadata.model} from {session.weights} on {session.engine.backend}/{session.engine.device}: "
            f"{metadata.frames} frames every {metadata.interval_s:.3f} s, {metadata.crop}px, "
            f"{len(session.labels)} classes, images via {self.converter.backend}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._reset_stats()
        self.stream.reset()
        self.worker = InferenceWorker(self._classify, self._on_worker_error, self.stream.queue_capacity)
        compressed = self.param("image_transport") == "compressed"
        qos = qos_profile_sensor_data if self.param("qos_reliability") != "reliable" else QoSProfile(depth=10)
        self.image_sub = self.create_subscription(CompressedImage if compressed else Image,
                                                  "image/compressed" if compressed else "image",
                                                  self._on_compressed if compressed else self._on_image, qos)
        self.diagnostics_timer = self.create_timer(1.0, self._publish_diagnostics)
        result = super().on_activate(state)
        if self.label_info_pub:
            self.label_info_pub.publish(messages.label_info(self._header(self.get_clock().now().to_msg(), ""),
                                                            self.stream.labels, self.param("score_threshold")))
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
        self.stream.close()  # frees the engine (and GPU memory)
        self.stream = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.worker is not None:
            self.worker.stop()
        if self.stream is not None:
            self.stream.close()
        return TransitionCallbackReturn.SUCCESS

    def _on_enable(self, request, response):
        self.enabled = bool(request.data)
        if not self.enabled and self.stream is not None:
            self.stream.reset()  # resume with a fresh clip, not one with a gap in it
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
        clip = self.stream.add_frame(stamp, msg, msg.header.frame_id, size, convert)
        if clip is not None and self.worker.submit((clip, msg.header)) and self.stream.streaming:
            self.stream.restart()  # a step was dropped: the state no longer follows the stream
            self._on_stream_event("dropped", "inference fell behind the camera: stream state restarted")

    def _on_stream_event(self, kind: str, message: str) -> None:
        if kind == BAD_FRAME:
            self.get_logger().error(message, throttle_duration_sec=THROTTLE_S)
        else:
            self.get_logger().warning(message, throttle_duration_sec=THROTTLE_S)

    # ---------------------------------------------------------------- inference (worker thread)
    def _classify(self, item) -> None:
        clip, header = item  # the header of the clip's newest frame: its exact stamp and frame_id
        prediction = self.stream.predict(clip)
        if prediction is None:  # stream mode: warming up, or a step between published ones
            return
        self.classification_pub.publish(messages.classification(header, prediction.top))
        latency = self.get_clock().now().nanoseconds * 1e-9 - prediction.stamp
        with self._stats_lock:
            self.stats["published"] += 1
            self.latency.add(latency, prediction.compute_s)
        if self.overlay_pub.get_subscription_count() > 0:
            self._publish_overlay(header, clip.rgb, prediction)

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
            self.stats = dict(received=0, published=0, inference_errors=0)
            self.arrivals: list[float] = []
            self.latency = LatencyStats()

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        with self._stats_lock:
            self.arrivals = [t for t in self.arrivals if now - t <= 1.0]
            values = dict(self.stats, input_fps=len(self.arrivals),
                          clips_dropped=self.worker.dropped if self.worker else 0,
                          **self.stream.counters.summary(), **self.latency.summary_ms())
        values.update(inference="stream" if self.stream.streaming else "clip", warming_up=self.stream.warming_up)
        level = DiagnosticStatus.OK
        message = "running" if self.enabled else "paused"
        if values["bad_messages"] or values["inference_errors"]:
            level, message = DiagnosticStatus.WARN, "bad messages or failed inferences (see values)"
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: activity recognition", message=message,
                                  hardware_id=self.stream.session.engine.device,
                                  values=[KeyValue(key=k, value=f"{v:.1f}" if isinstance(v, float) else str(v))
                                          for k, v in values.items()])
        self.diagnostics_pub.publish(DiagnosticArray(header=self._header(self.get_clock().now().to_msg(), ""),
                                                     status=[status]))

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
