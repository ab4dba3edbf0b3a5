"""`ar-core train` killed with SIGKILL, then `--resume`d, ends with the weights of an uninterrupted run."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

INTERVAL = 4  # checkpoint every 4 iterations; 3 epochs of 4 batches = 12 iterations
ARGS = ["--model", "xs", "--crop", "32", "--device", "cpu", "--dataset", "synthetic", "--synthetic-samples", "32",
        "--synthetic-val-samples", "8", "--synthetic-classes", "4", "--batch-size", "8", "--iters", "3",
        "--optimizer", "sgd", "--lr", "0.05", "--lr-schedule", "cosine", "--warmup-epochs", "0.5",
        "--checkpoint-after-iter", str(INTERVAL), "--log-every", "2", "--seed", "11"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _train(run_dir, *extra):
    return subprocess.Popen([sys.executable, "-m", "ar_core.cli", "train", *ARGS, "--temp-path", str(run_dir), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)


def _finish(process, timeout=240):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    return output


def _weights(path):
    return torch.load(path, weights_only=True)


def _checkpoints(run_dir):
    folder = run_dir / "checkpoints"
    return sorted(int(m.group(1)) for p in folder.glob("iter_*.pt") if (m := re.match(r"iter_(\d+)\.pt$", p.name))) \
        if folder.is_dir() else []


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    reference = _train(tmp_path / "reference")
    interrupted = _train(tmp_path / "interrupted")
    deadline = time.monotonic() + 240
    while not _checkpoints(tmp_path / "interrupted"):
        assert interrupted.poll() is None, interrupted.communicate()[0]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    saved = _checkpoints(tmp_path / "interrupted")
    assert not (tmp_path / "interrupted" / "x3d_xs.pth").exists(), "the run finished before it was killed"
    if saved[-1] >= 12:
        pytest.fail("the run reached its last checkpoint before the kill; nothing left to resume")

    resumed_output = _finish(_train(tmp_path / "interrupted", "--resume"))
    # At most one checkpoint interval is lost: the run continues from the newest checkpoint on disk.
    assert f"resumed from {tmp_path / 'interrupted' / 'checkpoints'}" in resumed_output
    assert f"at iteration {saved[-1]}" in resumed_output
    assert "trained 12 iterations" in resumed_output

    _finish(reference)
    expected = _weights(tmp_path / "reference" / "x3d_xs.pth")
    actual = _weights(tmp_path / "interrupted" / "x3d_xs.pth")
    initial_run = _weights(tmp_path / "interrupted" / "checkpoints" / f"iter_{saved[0]:08d}.pt")["model"]
    assert not all(torch.equal(initial_run[k], expected[k]) for k in expected)  # training went on after it
    for name, tensor in expected.items():
        assert torch.equal(actual[name], tensor), f"{name} differs from the uninterrupted run"
