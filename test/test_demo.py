"""The demo's whole code path at a reduced length: no weights reachable, a tiny SyntheticMotion training run with
`ar-core train`, a generated camera stream over DDS into the real activity_node, the live table and summary."""
import os
import subprocess
import sys

from ar_ros.demo import official_weights


def run_demo(tmp_path, *args: str) -> str:
    """`python -m ar_ros.demo --seconds 8 ARGS` with its cache under tmp_path: what it printed (it must succeed)."""
    env = dict(os.environ, AR_ROS_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, "-m", "ar_ros.demo", "--seconds", "8", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def classification_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip().endswith(")") and " s  " in line and "truth:" in line]


def test_demo_end_to_end_at_reduced_length(tmp_path):
    # Port 9 on loopback refuses at once: the "network is down" path without touching the internet.
    args = ["--train-epochs", "1", "--train-samples", "64", "--download-url", "http://127.0.0.1:9/x3d_xs.pyth"]
    out = run_demo(tmp_path, *args)
    assert "could not be downloaded" in out and "training X3D-XS on SyntheticMotion" in out
    assert "X3D-XS trained on SyntheticMotion just now" in out
    assert len(classification_rows(out)) >= 3, out
    assert "classifications; top-1 accuracy against the stream's labels" in out and "latency p50" in out
    assert (tmp_path / "cache" / "demo" / "x3d_xs_synthetic" / "x3d_xs.pth").is_file()

    # Second run: the trained model comes from the cache, no training.
    again = run_demo(tmp_path, *args)
    assert "(cached:" in again and "training X3D-XS" not in again


def test_demo_trains_and_serves_a_model_without_published_weights(tmp_path):
    # LRCN has no published checkpoint: nothing is downloaded, the demo recipe trains it, the node serves it.
    out = run_demo(tmp_path, "--model", "lrcn", "--train-epochs", "1", "--train-samples", "32")
    assert "LRCN has no published checkpoint: training LRCN on SyntheticMotion" in out, out
    assert len(classification_rows(out)) >= 3, out
    assert (tmp_path / "cache" / "demo" / "lrcn_synthetic" / "lrcn.pth").is_file()


def test_a_checkpoint_the_hub_cannot_fetch_is_a_reason_to_train_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AR_ROS_CACHE", str(tmp_path))
    weights, reason = official_weights("s3d_mobilenetv3", None)
    assert weights is None
    assert reason == ("S3D-MobileNetV3's published checkpoint (s3d-mobilenetv3-large-kinetics700.pth) is not one "
                      "the hub downloads")
    assert official_weights("lrcn", None) == (None, "LRCN has no published checkpoint")
