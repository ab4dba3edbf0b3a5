"""Node in the loop: replay a bag's image topic and /clock over DDS into the real activity_node.

The node runs as its own process with `use_sim_time`, exactly as on a robot; its Classification messages are
recorded into a new rosbag2 (MCAP, message definitions included, so `ros2 bag` reads it) and scored with the
same accuracy code as `ar-core bag-eval`. At a slow enough rate the two modes give the same predictions.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

from ar_core.bags.evaluate import score_predictions
from ar_core.bags.reader import COMPRESSED_IMAGE, Bag, typestore
from ar_core.bags.report import write_report
from ar_core.bags.truth import read_truth
from ar_core.labels import read_labels
from ar_core.stream.latency import LatencyStats
from ar_core.stream.settings import BAG_REPLAY, StreamSettings, add_arguments, from_arguments, ros_arguments

from . import messages

NODE_NAME = "activity_node"
CLASSIFICATION_TOPIC = f"/{NODE_NAME}/classification"
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def node_command(settings: StreamSettings, topic: str, compressed: bool) -> list[str]:
    """The activity_node process with simulated time and every setting bag-eval would use (they already merge
    the params file and the flags, so each value is passed explicitly)."""
    transport = "compressed" if compressed else "raw"
    return [sys.executable, "-m", "ar_ros.activity_node", "--ros-args", *ros_arguments(settings),
            *ros_arguments(dict(use_sim_time=True, qos_reliability="reliable", image_transport=transport)),
            "-r", f"{'image/compressed' if compressed else 'image'}:={topic}"]


def classification_typestore():
    """rosbags' Jazzy types plus the installed vision_msgs definitions, so the recording carries them."""
    from rosbags.typesys import get_types_from_msg

    store = typestore()
    types = {}
    for path in sorted(_vision_msgs_share().glob("msg/*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"vision_msgs/msg/{path.stem}"))
    store.register(types)
    return store


def _vision_msgs_share() -> Path:
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("vision_msgs"))
    except Exception:  # not on the ament index (the venv build): <prefix>/lib/pythonX.Y/site-packages/vision_msgs
        import vision_msgs

        return Path(vision_msgs.__file__).resolve().parents[4] / "share" / "vision_msgs"


class _Recorder:
    """Collects Classification messages with the simulated time they arrived at."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[int, object]] = []  # (sim time ns, message)
        self.sim_now_ns = 0

    def __call__(self, msg) -> None:
        with self.lock:
            self.received.append((self.sim_now_ns, msg))

    def count(self) -> int:
        with self.lock:
            return len(self.received)


def bag_replay(bag_path: str | os.PathLike, topic: str, truth_path: str | os.PathLike, settings: StreamSettings,
               out_dir: str | os.PathLike, rate: float = 1.0, startup_timeout_s: float = 120.0,
               progress: bool = True) -> dict:
    """Publish the bag at `rate` x real time into a fresh activity_node, record and score what it publishes."""
    from tqdm import tqdm

    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    bag = Bag(bag_path)
    msgtype = bag.image_type(topic)
    compressed = msgtype == COMPRESSED_IMAGE
    out_dir = Path(out_dir)
    labels = _labels(settings)
    segments = read_truth(truth_path, labels) if labels else read_truth(truth_path)
    store = typestore()

    context = rclpy.Context()
    rclpy.init(context=context)
    io = rclpy.create_node("bag_replay", context=context)
    clock_pub = io.create_publisher(Clock, "/clock", 10)
    image_pub = io.create_publisher(CompressedImage if compressed else Image, topic, RELIABLE)
    recorder = _Recorder()
    io.create_subscription(messages.ClassificationMsg, CLASSIFICATION_TOPIC, recorder, RELIABLE)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(io)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    out_dir.mkdir(parents=True, exist_ok=True)
    node_log = out_dir / "node.log"
    with open(node_log, "w") as log:  # a file, not a pipe: a chatty node must never block on a full pipe
        node = subprocess.Popen(node_command(settings, topic, compressed), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    stamp_to_time: dict[tuple[int, int], float] = {}
    frames, error = 0, None
    try:
        deadline = time.monotonic() + startup_timeout_s
        while image_pub.get_subscription_count() == 0 or clock_pub.get_subscription_count() == 0:
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"activity_node did not start (see {node_log}): {_tail(node_log)}")
            time.sleep(0.1)
        start_wall = time.monotonic()
        for bag_time_ns, _, _, msg in tqdm(bag.images(topic), total=bag.counts.get(topic), unit="frame",
                                           desc=f"replay {rate:g}x", disable=None if progress else True):
            time.sleep(max(0.0, start_wall + bag.time_s(bag_time_ns) / rate - time.monotonic()))
            with recorder.lock:
                recorder.sim_now_ns = bag_time_ns
            clock_pub.publish(Clock(clock=_time_msg(bag_time_ns)))
            stamp_to_time[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = bag.time_s(bag_time_ns)
            image_pub.publish(bytes(store.serialize_cdr(msg, msgtype)))
            frames += 1
        _drain(recorder, node)
    except Exception as err:  # a damaged bag or a node that died: keep what was recorded
        error = str(err)
    finally:
        os.killpg(node.pid, signal.SIGINT)
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
        executor.shutdown(timeout_sec=2)
        io.destroy_node()
        rclpy.shutdown(context=context)

    recorded = out_dir / "classifications"
    _record(recorder.received, recorded)
    predictions, latency = [], LatencyStats(window=len(recorder.received) or 1)
    for sim_ns, msg in recorder.received:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        stamp_s = key[0] + key[1] * 1e-9
        latency.add(sim_ns * 1e-9 - stamp_s, 0.0)
        if key not in stamp_to_time:
            continue
        ranked = [_class_name(r) for r in msg.results]
        predictions.append({"time_s": stamp_to_time[key], "stamp": stamp_s, "frame_id": msg.header.frame_id,
                            "ranked": ranked, "confidence": msg.results[0].score if msg.results else 0.0,
                            "top": [{"label": _class_name(r), "score": r.score} for r in msg.results]})
    summary = latency.summary_ms()
    report = {
        "mode": "replay",
        "complete": error is None,
        "error": error,
        "source": {"bag_path": str(bag_path), "topic": topic, "truth": str(truth_path), "frames_published": frames,
                   "rate": rate, "recorded_bag": str(recorded)},
        "settings": {**settings.to_dict(), "params_file": settings.source},
        "accuracy": score_predictions([(p["time_s"], p["ranked"]) for p in predictions],
                                      segments, labels or sorted({s.label for s in segments})),
        "latency": {"latency_p50_ms": summary.get("latency_p50_ms"), "latency_p95_ms": summary.get("latency_p95_ms"),
                    "latency_max_ms": summary.get("latency_max_ms"), "clips": len(predictions),
                    "clock": "simulated (/clock from bag times)"},
        "predictions": predictions,
        "node_log": str(node_log),
    }
    write_report(report, out_dir)
    return report


def _labels(settings: StreamSettings) -> list[str] | None:
    """The class names the node will use, for checking the truth file before starting it."""
    if settings.labels:
        return read_labels(settings.labels)
    from ar_core.session import open_session

    session = open_session(settings.model, settings.weights, "torch", "cpu", 1)  # only to read its class names
    try:
        return session.labels
    finally:
        session.close()


def _drain(recorder: _Recorder, node: subprocess.Popen, quiet_s: float = 3.0, limit_s: float = 120.0) -> None:
    """Wait until the node has published nothing new for `quiet_s` (its last clips are still computing)."""
    end = time.monotonic() + limit_s
    last, since = recorder.count(), time.monotonic()
    while time.monotonic() < end and node.poll() is None:
        time.sleep(0.1)
        if recorder.count() != last:
            last, since = recorder.count(), time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return


def _record(received: list[tuple[int, object]], path: Path) -> None:
    """Write the Classification messages as a rosbag2 (MCAP), atomically (a folder renamed into place)."""
    import shutil

    from rosbags.rosbag2 import StoragePlugin, Writer

    store = classification_typestore()
    msgtype = "vision_msgs/msg/Classification" if messages.HAS_CLASSIFICATION else \
        "vision_msgs/msg/Classification2D"
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with Writer(tmp, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connection = writer.add_connection(CLASSIFICATION_TOPIC, msgtype, typestore=store)
        for sim_ns, msg in received:
            writer.write(connection, sim_ns, serialize_message(msg))
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)


def _class_name(result) -> str:
    return getattr(result, "class_id", None) or getattr(result, "id", "")


def _time_msg(ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=ns // 10**9, nanosec=ns % 10**9)


def _tail(path: Path, limit: int = 1500) -> str:
    return path.read_text(errors="replace")[-limit:]


def add_command(commands) -> None:
    """`ar-core bag-replay`, added to ar-core's subcommands through the `ar_core.commands` entry point."""
    parser = commands.add_parser("bag-replay", help=_summary(), description=run_command.__doc__)
    _add_arguments(parser)
    parser.set_defaults(func=run_command)


def _add_arguments(parser) -> None:
    from ar_core.cli import add_bag_arguments

    add_bag_arguments(parser)
    add_arguments(parser, BAG_REPLAY)
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed (1: real time)")


def run_command(args) -> int:
    """Node in the loop: publish a rosbag2's image topic and /clock over DDS into a real activity_node (with
    use_sim_time), record its Classification output into a new rosbag2 and score it like bag-eval."""
    from ar_core.cli import percent

    report = bag_replay(args.bag, args.topic, args.truth, from_arguments(args, BAG_REPLAY), args.out, rate=args.rate)
    overall, latency = report["accuracy"]["overall"], report["latency"]
    print(f"{overall['predictions']} classifications in truth segments: top-1 {percent(overall['top1'])}, "
          f"top-5 {percent(overall['top5'])}; latency p50/p95 {latency['latency_p50_ms']} / "
          f"{latency['latency_p95_ms']} ms (simulated clock)")
    print(f"recorded: {report['source']['recorded_bag']}; report: {args.out}/report.json")
    if not report["complete"]:
        print(f"bag-replay: error: {report['error']}", file=sys.stderr)
        return 1
    return 0


def _summary() -> str:
    return run_command.__doc__.split("\n")[0]


def main(argv: list[str] | None = None) -> int:
    """The `bag_replay` console script: the same command as `ar-core bag-replay`."""
    import argparse

    parser = argparse.ArgumentParser(prog="bag_replay", description=run_command.__doc__)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"bag_replay: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
