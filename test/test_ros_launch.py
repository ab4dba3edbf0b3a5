"""The launch file, checked through a recording stand-in for `launch` (see test/launch_standin.py)."""
from pathlib import Path

import pytest
import rclpy
import yaml

from ar_core.models import MODEL_SPECS
from ar_ros.activity_node import PARAMS, ActivityNode

from launch_standin import DeclareLaunchArgument, Node, load_launch_description, resolve

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = ROOT / "launch" / "activity_recognition.launch.py"


def _launch(**overrides):
    description = load_launch_description(str(LAUNCH_FILE))
    declared = {e.name: e.kwargs["default_value"] for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    arguments = {**declared, **overrides}
    [node] = [e for e in description.entities if isinstance(e, Node)]
    return declared, node, lambda value: resolve(value, arguments, {"ar_ros": str(ROOT)})


def test_arguments_and_defaults():
    declared, node, resolved = _launch()
    assert declared == {"model": "xs", "device": "cpu", "backend": "torch", "weights": "",
                        "image_topic": "/camera/image_raw", "image_transport": "raw"}
    assert node.kwargs["package"] == "ar_ros" and node.kwargs["executable"] == "activity_node"
    remaps = {resolved(a): resolved(b) for a, b in node.kwargs["remappings"]}
    assert remaps == {"image": "/camera/image_raw", "image/compressed": "/camera/image_raw/compressed"}


@pytest.mark.parametrize("model", list(MODEL_SPECS))
def test_every_size_resolves_to_a_params_file_the_node_accepts(model, tmp_path):
    _, node, resolved = _launch(model=model, device="cuda:1", image_topic="/robot/front/image")
    params_file, overrides = (resolved(p) for p in node.kwargs["parameters"])
    assert Path(params_file) == ROOT / "config" / f"x3d_{model}.yaml" and Path(params_file).is_file()
    assert overrides["model"] == model and overrides["device"] == "cuda:1"
    values = yaml.safe_load(Path(params_file).read_text())["/**"]["ros__parameters"]
    declared = {p.name: p for p in PARAMS}
    assert set(values) <= set(declared), set(values) - set(declared)
    assert values["model"] == model
    # The real node, started with this file as `ros2 launch` would pass it, takes every value as given.
    context = rclpy.Context()
    rclpy.init(args=["--ros-args", "--params-file", params_file], context=context)
    try:
        node = ActivityNode(context=context)
        for name, value in values.items():
            assert node.get_parameter(name).value == value, name
            assert type(value) is type(declared[name].default), name
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
