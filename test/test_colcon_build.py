"""`colcon build` of the repo as a robot's workspace would build it (scripts/colcon_check.sh does the work)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_colcon_build_installs_entry_points_launch_and_config():
    result = subprocess.run(["bash", str(REPO / "scripts" / "colcon_check.sh")],
                            env={**os.environ, "VENV": sys.prefix},  # the venv running the tests
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"colcon_check.sh failed:\n{result.stdout}\n{result.stderr}"
    steps = result.stdout.splitlines()
    assert len(steps) == 5 and all(line.startswith("[colcon] ") and " ok (" in line for line in steps), steps
