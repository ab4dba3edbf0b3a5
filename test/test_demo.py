"""The demo's whole code path at a reduced length: no weights reachable, a tiny SyntheticMotion training run with
`ar-core train`, a generated camera stream over DDS into the real activity_node, the live table and summary."""
import os
import subprocess
import sys


def test_demo_end_to_end_at_reduced_length(tmp_path):
    env = dict(os.environ, AR_ROS_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    # Port 9 on loopback refuses at once: the "network is down" path without touching the internet.
    command = [sys.executable, "-m", "ar_ros.demo", "--seconds", "8", "--train-epochs", "1", "--train-samples", "64",
               "--download-url", "http://127.0.0.1:9/x3d_xs.pyth"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout
    assert "could not be downloaded" in out and "training X3D-XS on SyntheticMotion" in out
    assert "X3D-XS trained on SyntheticMotion just now" in out
    rows = [line for line in out.splitlines() if line.strip().endswith(")") and " s  " in line and "truth:" in line]
    assert len(rows) >= 3, out
    assert "classifications; top-1 accuracy against the stream's labels" in out and "latency p50" in out
    assert (tmp_path / "cache" / "demo" / "x3d_xs_synthetic" / "x3d_xs.pth").is_file()

    # Second run: the trained model comes from the cache, no training.
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "(cached:" in second.stdout and "training X3D-XS" not in second.stdout


def test_demo_trains_and_serves_a_model_without_published_weights(tmp_path):
    # LRCN has no published checkpoint: nothing is downloaded, the demo recipe trains it, the node serves it.
    env = dict(os.environ, AR_ROS_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "ar_ros.demo", "--model", "lrcn", "--seconds", "8", "--train-epochs", "1",
               "--train-samples", "32"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "LRCN has no published checkpoint: training LRCN on SyntheticMotion" in out, out
    rows = [line for line in out.splitlines() if line.strip().endswith(")") and " s  " in line and "truth:" in line]
    assert len(rows) >= 3, out
    assert (tmp_path / "cache" / "demo" / "lrcn_synthetic" / "lrcn.pth").is_file()
