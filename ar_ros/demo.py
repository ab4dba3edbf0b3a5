"""`make demo`: a camera stream published over DDS into the real activity_node, classifications shown live.

The model (`--model`, any registry name, default X3D-XS): its official Kinetics-400 weights when the hub has them
and they are cached or downloadable (the network gets 10 s), else the model trained on SyntheticMotion by `ar-core
train` with the demo recipe (cached after the first run). The stream: the bundled Kinetics clip (arm wrestling)
for the official weights, else a generated sequence of motion classes. Either way the true label of every frame is
known, so the demo ends with accuracy and latency.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ar_core import hub
from ar_core.models import MODEL_SPECS, get_spec
from ar_core.runtime.sources import open_model
from ar_core.stream.latency import LatencyStats
from ar_core.stream.settings import ros_arguments

ASSETS = Path(__file__).resolve().parents[1] / "ar_core" / "assets"
DEMO_VIDEO = ASSETS / "demo.mp4"  # Kinetics-400 "arm wrestling" (see ar_core/assets/SOURCES.md)
DEMO_VIDEO_LABEL = "arm wrestling"
FASTDDS_PROFILE = Path(__file__).resolve().parents[1] / "config" / "fastdds_large_images.xml"
DEMO_TRAIN_CONFIG = Path(__file__).resolve().parents[1] / "config" / "train" / "demo_synthetic.yaml"
TOPIC = "/demo/camera/image_raw"
CLASSIFICATION = "/activity_node/classification"
STREAM_FPS = 15.0


@dataclass
class DemoModel:
    weights: Path
    description: str
    official: bool


def synthetic_weights(model: str) -> Path:
    """Where the demo keeps `model` trained on SyntheticMotion: <cache>/demo/<file stem>_synthetic/<file stem>.pth."""
    stem = get_spec(model).file_stem
    return hub.cache_dir() / "demo" / f"{stem}_synthetic" / f"{stem}.pth"


def official_weights(model: str, download_url: str | None) -> tuple[DemoModel | None, str]:
    """The model's published Kinetics-400 weights, cached or downloaded, or None and why not."""
    spec = get_spec(model)
    if spec.checkpoint is None:
        return None, f"{spec.title} has no published checkpoint"
    if spec.name not in hub.CHECKPOINTS:  # e.g. OTE's Kinetics-700 snapshots: no zoo URL to fetch them from
        return None, f"{spec.title}'s published checkpoint ({spec.checkpoint}) is not one the hub downloads"
    cached = hub.cached_checkpoint(model)
    if cached:
        return DemoModel(cached, f"official {spec.title} Kinetics-400 weights (cached: {cached})", True), ""
    try:
        path = hub.download_checkpoint(model, url=download_url, timeout=10)
        return DemoModel(path, f"official {spec.title} Kinetics-400 weights (downloaded to {path})", True), ""
    except (hub.DownloadError, OSError) as err:
        return None, f"the official weights are not cached and could not be downloaded ({err})"


def choose_model(model: str, train_epochs: int | None, train_samples: int | None,
                 download_url: str | None) -> DemoModel:
    official, reason = official_weights(model, download_url)
    if official:
        return official
    title = get_spec(model).title
    weights = synthetic_weights(model)
    if weights.is_file():
        return DemoModel(weights, f"{title} trained on SyntheticMotion (cached: {weights}), because {reason}", False)
    recipe = f"{train_epochs} epochs" if train_epochs else f"the recipe in {DEMO_TRAIN_CONFIG.name}"
    print(f"[demo] {reason}: training {title} on SyntheticMotion once ({recipe}, cached afterwards)")
    train_synthetic(model, train_epochs, train_samples)
    return DemoModel(weights, f"{title} trained on SyntheticMotion just now ({weights}), because {reason}", False)


def train_synthetic(model: str, epochs: int | None = None, samples: int | None = None) -> None:
    """`ar-core train` of `model` on SyntheticMotion into the demo cache; the run shows its own progress bar."""
    weights = synthetic_weights(model)
    run_dir = weights.parent.with_name(weights.parent.name + ".run")
    command = [sys.executable, "-m", "ar_core.cli", "train", "--config", str(DEMO_TRAIN_CONFIG), "--model", model,
               "--temp-path", str(run_dir)]
    if epochs:
        command += ["--iters", str(epochs)]
    if samples:
        command += ["--synthetic-samples", str(samples), "--synthetic-val-samples", str(max(16, samples // 4))]
    # One thread: on a machine with anything else running, two OpenMP threads on two cores run ~10x slower.
    subprocess.run(command, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    trained = open_model(run_dir, model).path  # the newest model the run saved
    weights.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".pth", ".json"):  # under a fixed name
        os.replace(trained.with_suffix(suffix), weights.with_suffix(suffix))


def official_stream(seconds: float) -> tuple[list[np.ndarray], list[str], float]:
    """The bundled Kinetics clip, looped to `seconds`."""
    from ar_core.data.video import probe, read_all_frames

    info = probe(DEMO_VIDEO)
    fps, frames = info.fps, list(read_all_frames(DEMO_VIDEO, info))
    count = int(seconds * fps)
    frames = [frames[i % len(frames)] for i in range(count)]
    return frames, [DEMO_VIDEO_LABEL] * count, fps


def synthetic_stream(seconds: float, classes: list[str], size: int, segment_s: float = 4.0, seed: int = 7):
    """Motion classes one after another, `segment_s` each, rendered at STREAM_FPS and the model's crop size."""
    from ar_core.data import MOTION_CLASSES, render_motion_frames

    frames, labels = [], []
    per_segment = int(segment_s * STREAM_FPS)
    for i in range(max(1, int(seconds / segment_s))):
        name = classes[(i * 3 + 1) % len(classes)]
        frames += list(render_motion_frames(MOTION_CLASSES.index(name), per_segment, size, STREAM_FPS,
                                            seed=seed + i))
        labels += [name] * per_segment
    return frames, labels, STREAM_FPS


def run(model_name: str, seconds: float, train_epochs: int | None, train_samples: int | None,
        download_url: str | None) -> int:
    t0 = time.monotonic()
    model = choose_model(model_name, train_epochs, train_samples, download_url)
    print(f"[demo] model: {model.description}")
    metadata = open_model(model.weights, model_name).metadata
    if model.official:
        frames, truth, fps = official_stream(seconds)
    else:
        frames, truth, fps = synthetic_stream(seconds, metadata.classes, metadata.crop)
    print(f"[demo] stream: {len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} at {fps:g} fps "
          f"on {TOPIC}, published over DDS into activity_node")
    return stream_into_node(model_name, model, frames, truth, fps, t0, clip_span_s=(metadata.frames - 1) *
                            metadata.interval_s)


def stream_into_node(model_name: str, model: DemoModel, frames, truth, fps: float, t0: float,
                     clip_span_s: float) -> int:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from ar_core.stream.image import rgb_to_image_fields

    from .messages import ClassificationMsg

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(FASTDDS_PROFILE))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.update({k: env[k] for k in ("FASTRTPS_DEFAULT_PROFILES_FILE", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    hub.cache_dir().mkdir(parents=True, exist_ok=True)
    log = open(hub.cache_dir() / "demo_node.log", "w")
    parameters = ros_arguments(dict(model=model_name, weights=str(model.weights), qos_reliability="reliable",
                                    top_k=3))
    node = subprocess.Popen([sys.executable, "-m", "ar_ros.activity_node", "--ros-args", *parameters,
                             "-r", f"image:={TOPIC}"], env=env, stdout=log, stderr=subprocess.STDOUT)
    rclpy.init()
    io = rclpy.create_node("demo_camera")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    publisher = io.create_publisher(Image, TOPIC, reliable)
    stamps: dict[tuple[int, int], int] = {}  # header stamp -> frame index
    results: list[tuple[int, list, float]] = []  # (frame index of the newest frame, results, latency s)
    lock = threading.Lock()

    def on_classification(msg) -> None:
        now = io.get_clock().now().nanoseconds * 1e-9
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        with lock:
            index = stamps.get(key)
        if index is None:
            return
        latency = now - (key[0] + key[1] * 1e-9)
        results.append((index, list(msg.results), latency))
        names = "  ".join(f"{r.class_id[:22]:>22} {r.score:4.2f}" for r in msg.results)
        mark = "ok" if msg.results and msg.results[0].class_id == truth[index] else "--"
        print(f"{index / fps:7.1f} s  {names}  {latency * 1e3:6.0f} ms  {mark} (truth: {truth[index]})", flush=True)

    io.create_subscription(ClassificationMsg, CLASSIFICATION, on_classification, reliable)
    spinner = threading.Thread(target=rclpy.spin, args=(io,), daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 120
        while publisher.get_subscription_count() == 0:
            if node.poll() is not None or time.monotonic() > deadline:
                log.flush()
                print((hub.cache_dir() / "demo_node.log").read_text()[-2000:], file=sys.stderr)
                print("[demo] error: activity_node did not start (log above)", file=sys.stderr)
                return 1
            time.sleep(0.1)
        print(f"{'time':>9}  {'top-3 (class, score)':^86}  latency")
        start = time.monotonic()
        for i, rgb in enumerate(frames):
            time.sleep(max(0.0, start + i / fps - time.monotonic()))
            stamp = io.get_clock().now().to_msg()
            with lock:
                stamps[(stamp.sec, stamp.nanosec)] = i
            step, data = rgb_to_image_fields(rgb, "rgb8")
            publisher.publish(Image(header=Header(stamp=stamp, frame_id="demo_camera"), height=rgb.shape[0],
                                    width=rgb.shape[1], encoding="rgb8", step=step, data=data))
        time.sleep(2.0)  # the last clips are still computing
    finally:
        node.terminate()
        node.wait(10)
        io.destroy_node()
        rclpy.try_shutdown()
        log.close()
    return summarise(results, truth, fps, time.monotonic() - t0, clip_span_s)


def summarise(results, truth, fps: float, elapsed_s: float, clip_span_s: float) -> int:
    """Accuracy over the clips that lie within one activity (a clip across a change has no single truth)."""
    if not results:
        print("[demo] error: no classifications arrived", file=sys.stderr)
        return 1
    span = round(clip_span_s * fps)  # frames from a clip's oldest to newest
    latency = LatencyStats(len(results))
    for _, _, seconds in results:
        latency.add(seconds, 0.0)
    scored = [(i, r) for i, r, _ in results if truth[max(0, i - span)] == truth[i]]
    correct = sum(bool(r) and r[0].class_id == truth[i] for i, r in scored)
    ms = latency.summary_ms()
    accuracy = f"{correct / len(scored):.0%} of {len(scored)}" if scored else "n/a"
    print(f"[demo] {len(results)} classifications; top-1 accuracy against the stream's labels: {accuracy} clips "
          f"within one activity; latency p50 {ms['latency_p50_ms']:.0f} ms, p95 {ms['latency_p95_ms']:.0f} ms "
          f"(frame stamp to classification received); {elapsed_s:.0f} s in all")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="xs", choices=list(MODEL_SPECS),
                        help="registry name (ar-core info lists them)")
    parser.add_argument("--seconds", type=float, default=24.0, help="length of the camera stream")
    parser.add_argument("--train-epochs", type=int, default=None,
                        help="SyntheticMotion training epochs (first run; default: the config's)")
    parser.add_argument("--train-samples", type=int, default=None, help="SyntheticMotion clips (default: the config)")
    parser.add_argument("--download-url", default=None,
                        help="where to fetch the model's checkpoint (default: its model zoo)")
    args = parser.parse_args(argv)
    return run(args.model, args.seconds, args.train_epochs, args.train_samples, args.download_url)


if __name__ == "__main__":
    sys.exit(main())
