"""Shared pieces for the tests that run the real node over rclpy and Fast DDS."""
from __future__ import annotations

import threading
import time
from collections import defaultdict

import numpy as np
import torch
from builtin_interfaces.msg import Time
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ar_core.models import build_model
from ar_core.stream.image import rgb_to_image_fields


def make_weights(path, num_classes: int = 400, seed: int = 0) -> str:
    """A random-init X3D-XS state dict: real weights file, untrained model (no checkpoints can be downloaded)."""
    torch.manual_seed(seed)
    torch.save(build_model("xs", num_classes).state_dict(), path)
    return str(path)


def stamp(seconds: float) -> Time:
    sec = int(seconds)
    return Time(sec=sec, nanosec=int(round((seconds - sec) * 1e9)))


def seconds(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


def moving_square(index: int, fps: float, width: int = 160, height: int = 120) -> np.ndarray:
    """A white square crossing a grey frame at 60 px per second of camera time."""
    rgb = np.full((height, width, 3), 80, np.uint8)
    x = int(60 * index / fps) % (width - 20)
    rgb[40:60, x:x + 20] = 255
    return rgb


def image_msg(rgb: np.ndarray, t: float, frame_id: str = "camera", encoding: str = "rgb8") -> Image:
    step, data = rgb_to_image_fields(rgb, encoding)
    return Image(header=Header(stamp=stamp(t), frame_id=frame_id), height=rgb.shape[0], width=rgb.shape[1],
                 encoding=encoding, step=step, data=data)


class Probe(Node):
    """Publishes images and records whatever arrives on the topics it is asked to watch."""

    def __init__(self, context, image_topic: str = "/image"):
        super().__init__("probe", context=context)
        self.received: dict[str, list] = defaultdict(list)
        self.lock = threading.Lock()
        self.image_pub = self.create_publisher(Image, image_topic, QoSProfile(depth=50))

    def watch(self, msg_type, topic: str, latched: bool = False):
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)
        return self.create_subscription(msg_type, topic, lambda m: self._store(topic, m), qos)

    def _store(self, topic, msg):
        with self.lock:
            self.received[topic].append(msg)

    def messages(self, topic: str) -> list:
        with self.lock:
            return list(self.received[topic])


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Spinner:
    """Spins nodes on a multi-threaded executor in a background thread."""

    def __init__(self, context, *nodes):
        self.executor = MultiThreadedExecutor(num_threads=4, context=context)
        for node in nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # the executor ends when the context shuts down
            pass

    def add(self, node):
        self.executor.add_node(node)

    def stop(self):
        self.executor.shutdown(timeout_sec=2.0)
