"""A camera publisher process at 30 fps 640x480 bgr8 into a real activity_node process, over Fast DDS.

Measures frames lost by the node (received vs published), conversion + preprocessing ms per sampled frame,
inference ms, end-to-end latency from newest-frame stamp to publish (p50/p95), and the node's RSS at start and end.

    .venv/bin/python bench/node_stream.py --seconds 60 [--weights W] [--backend torch] [--inference stream]

Without --weights it uses a random-init X3D-XS (timings do not depend on the weights' values).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PUBLISHER = r"""
import sys, time
import numpy as np, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header
seconds, fps = float(sys.argv[1]), 30.0
if sys.argv[2] == "reliable":
    qos_profile_sensor_data = 10
rclpy.init()
node = rclpy.create_node("camera")
pub = node.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
while pub.get_subscription_count() == 0:
    time.sleep(0.1)
time.sleep(1.0)
frame = np.zeros((480, 640, 3), np.uint8)
count, start = 0, time.monotonic()
while time.monotonic() - start < seconds:
    frame[:] = 60
    x = int(200 * count / fps) % 600
    frame[200:260, x:x + 40] = (40, 200, 255)
    msg = Image(header=Header(stamp=node.get_clock().now().to_msg(), frame_id="camera"), height=480, width=640,
                encoding="bgr8", step=640 * 3, data=frame.tobytes())
    pub.publish(msg)
    count += 1
    time.sleep(max(0.0, start + count / fps - time.monotonic()))
print(count, flush=True)
node.destroy_node()
rclpy.shutdown()
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--weights", default="")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--num-threads", type=int, default=0)
    parser.add_argument("--inference", default="clip", choices=["clip", "stream"],
                        help="the node's inference parameter: a clip per prediction, or a continual step per frame")
    parser.add_argument("--qos", default="best_effort", choices=["best_effort", "reliable"],
                        help="reliability of the camera publisher and the node's subscription")
    parser.add_argument("--fastdds-profile", default=str(Path(__file__).parents[1] / "config" /
                                                         "fastdds_large_images.xml"),
                        help="Fast DDS XML profile for both processes ('' for Fast DDS defaults)")
    args = parser.parse_args()

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray

    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    if args.fastdds_profile:
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(Path(args.fastdds_profile).resolve())
    env.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))
    os.environ.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if not weights:
            import torch

            from ar_core.models import build_model

            weights = str(Path(tmp) / "x3d_xs_random.pth")
            torch.save(build_model("xs").state_dict(), weights)
        node = subprocess.Popen([sys.executable, "-m", "ar_ros.activity_node", "--ros-args", "-p", f"weights:={weights}",
                                 "-p", f"backend:={args.backend}", "-p", f"num_threads:={args.num_threads}",
                                 "-p", f"inference:={args.inference}",
                                 "-p", f"qos_reliability:={args.qos}",
                                 "-r", "image:=/camera/image_raw"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        rclpy.init()
        monitor = rclpy.create_node("bench_monitor")
        diagnostics: list[dict[str, str]] = []
        monitor.create_subscription(DiagnosticArray, "/diagnostics",
                                    lambda m: diagnostics.append({kv.key: kv.value for kv in m.status[0].values}), 10)
        deadline = time.monotonic() + 60
        while not diagnostics and time.monotonic() < deadline:
            rclpy.spin_once(monitor, timeout_sec=0.1)
        rss_start = rss_mb(node.pid)
        camera = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(args.seconds), args.qos], env=env,
                                  stdout=subprocess.PIPE, text=True)
        started, rss_warm = time.monotonic(), float("nan")
        while camera.poll() is None:
            rclpy.spin_once(monitor, timeout_sec=0.1)
            if rss_warm != rss_warm and time.monotonic() - started > 10:  # after 10 s of frames: warmed up
                rss_warm = rss_mb(node.pid)
        published = int(camera.stdout.read().split()[-1])
        end = time.monotonic() + 3
        while time.monotonic() < end:
            rclpy.spin_once(monitor, timeout_sec=0.1)
        rss_end = rss_mb(node.pid)
        node.terminate()
        node.wait(10)
        final = diagnostics[-1]
    received = int(final["received"])
    print(f"X3D-XS on {args.backend}, {args.inference} inference, {args.seconds:.0f} s of 640x480 bgr8 at 30 fps, "
          f"{args.qos} QoS")
    print(f"  frames published        {published}")
    print(f"  frames received by node {received}  (lost: {published - received})")
    print(f"  preprocessing           {float(final.get('preprocess_ms', 'nan')):.2f} ms per sampled frame "
          f"(conversion + resize/crop/normalise)")
    # Absent until the node has published (stream mode publishes only once its warm-up steps are done).
    ms = {key: float(final.get(key, "nan")) for key in ("compute_p50_ms", "compute_p95_ms", "latency_p50_ms",
                                                         "latency_p95_ms")}
    print(f"  inference (compute)     p50 {ms['compute_p50_ms']:.1f} ms, p95 {ms['compute_p95_ms']:.1f} ms")
    print(f"  end-to-end latency      p50 {ms['latency_p50_ms']:.1f} ms, "
          f"p95 {ms['latency_p95_ms']:.1f} ms (newest-frame stamp -> publish)")
    print(f"  clips published/dropped {final['published']} / {final['clips_dropped']}")
    print(f"  node's mode             {final.get('inference', '?')} (sampled frames {final.get('sampled', '?')}, "
          f"still warming up: {final.get('warming_up', '?')})")
    print(f"  node RSS                start {rss_start:.0f} MB, after 10 s {rss_warm:.0f} MB, end {rss_end:.0f} MB")


if __name__ == "__main__":
    main()
