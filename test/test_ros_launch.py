"""The launch file, run through a stand-in for `launch` 3.4 / `launch_ros` / `ros2 launch` (test/launch_standin.py)."""
import shutil
from pathlib import Path

import pytest
import rclpy
import yaml

from ar_core.models import MODEL_SPECS, get_spec
from ar_core.stream.settings import NODE, settings_for
from ar_ros.activity_node import ActivityNode

import launch_standin
from launch_standin import (DeclareLaunchArgument, FindPackageShare, LaunchConfiguration, Node, PathJoinSubstitution,
                            load_launch_description)

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = ROOT / "launch" / "activity_recognition.launch.py"
NESTED_LIST = r"Failed to normalize given item of type '<class 'list'>', when only 'str' or 'launch.Substitution'"


def _run(tmp_path: Path, **arguments) -> launch_standin.LaunchResult:
    return launch_standin.run(LAUNCH_FILE, arguments, tmp_dir=tmp_path)


def _file_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["/**"]["ros__parameters"]


def _node_parameters(cmd: list[str]) -> dict:
    """The real node, started with the command line `ros2 launch` gives its process: the values it ends up with."""
    context = rclpy.Context()
    rclpy.init(args=cmd, context=context)
    try:
        node = ActivityNode(context=context)
        values = {s.name: node.get_parameter(s.name).value for s in settings_for(NODE)}
        node.destroy_node()
        return values
    finally:
        rclpy.shutdown(context=context)


def test_arguments_and_defaults(tmp_path):
    description = load_launch_description(LAUNCH_FILE)
    declared = {e.name: e for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert {name: "".join(s.text for s in arg.default_value) for name, arg in declared.items()} == {
        "model": "xs", "device": "", "backend": "", "weights": "", "image_topic": "/camera/image_raw",
        "image_transport": "", "inference": ""}
    assert declared["model"].choices == list(MODEL_SPECS)
    result = _run(tmp_path)
    assert result.returncode == 0 and result.errors == [] and result.warnings == []
    [node] = result.nodes
    assert node.cmd[0] == "lib/ar_ros/activity_node" and "__node:=activity_node" in node.cmd
    assert node.remappings_evaluated == [("image", "/camera/image_raw"),
                                         ("image/compressed", "/camera/image_raw/compressed")]


@pytest.mark.parametrize("build", [
    lambda: PathJoinSubstitution([FindPackageShare("ar_ros"), "config", ["x3d_", LaunchConfiguration("model")]]),
    lambda: DeclareLaunchArgument("model", default_value=["x", ["s"]]),
    lambda: Node(package="ar_ros", executable="activity_node", parameters=[["config/", ["x3d_xs.yaml"]]]),
    lambda: Node(package="ar_ros", executable="activity_node", remappings=[("image", ["/cam", ["/image"]])]),
], ids=["PathJoinSubstitution", "DeclareLaunchArgument", "Node-params-file", "Node-remapping"])
def test_standin_rejects_nested_lists_as_launch_3_4_does(build):
    with pytest.raises(TypeError, match=NESTED_LIST):
        build()


def test_standin_rejects_the_old_launch_file(tmp_path):
    # The form Jazzy's launch 3.4.3 refused: a list of text and a substitution inside PathJoinSubstitution's list.
    old = tmp_path / "old.launch.py"
    old.write_text(
        "from launch import LaunchDescription\n"
        "from launch.substitutions import LaunchConfiguration, PathJoinSubstitution\n"
        "from launch_ros.substitutions import FindPackageShare\n"
        "def generate_launch_description():\n"
        "    PathJoinSubstitution([FindPackageShare('ar_ros'), 'config',\n"
        "                          ['x3d_', LaunchConfiguration('model'), '.yaml']])\n"
        "    return LaunchDescription([])\n")
    with pytest.raises(TypeError, match=NESTED_LIST):
        load_launch_description(old)
    result = launch_standin.run(old, tmp_dir=tmp_path)
    assert result.returncode == 1 and result.nodes == []


def test_unknown_model_is_refused_before_the_node_starts(tmp_path):
    result = _run(tmp_path, model="xxl")
    assert result.returncode == 1 and result.nodes == []
    [error] = result.errors
    assert f'Argument "model" provided value "xxl" is not valid. Valid options are: {list(MODEL_SPECS)}' in error


def test_empty_arguments_leave_the_params_files_values(tmp_path):
    result = _run(tmp_path)
    [node] = result.nodes
    params_file, overrides = node.parameters_evaluated
    assert Path(params_file) == ROOT / "config" / "x3d_xs.yaml"
    assert overrides == {"model": "xs"}
    file_values = _file_values(params_file)
    assert file_values["device"] == "auto"
    values = _node_parameters(node.cmd)
    for name in ("device", "backend", "weights", "image_transport", "inference"):
        assert values[name] == file_values[name], name


def test_given_arguments_override_the_params_file(tmp_path):
    result = _run(tmp_path, device="cuda:1", weights="/data/x3d_xs.onnx", image_transport="compressed",
                  inference="stream")
    [node] = result.nodes
    _, overrides = node.parameters_evaluated
    assert overrides == {"model": "xs", "device": "cuda:1", "weights": "/data/x3d_xs.onnx",
                         "image_transport": "compressed", "inference": "stream"}
    values = _node_parameters(node.cmd)
    assert values["inference"] == "stream"
    assert (values["device"], values["weights"], values["image_transport"]) == ("cuda:1", "/data/x3d_xs.onnx",
                                                                                 "compressed")
    assert values["backend"] == _file_values(ROOT / "config" / "x3d_xs.yaml")["backend"]  # left empty


def test_editing_the_installed_params_file_takes_effect(tmp_path):
    # The installed share/ar_ros with `device:` edited, as a user would on the robot.
    share = tmp_path / "share"
    shutil.copytree(ROOT / "config", share / "config")
    edited = share / "config" / "x3d_s.yaml"
    edited.write_text(edited.read_text().replace("device: auto", "device: cuda:0"))
    result = launch_standin.run(LAUNCH_FILE, {"model": "s"}, tmp_dir=tmp_path, share_dirs={"ar_ros": str(share)})
    [node] = result.nodes
    assert _node_parameters(node.cmd)["device"] == "cuda:0"


@pytest.mark.parametrize("code", [1, -9])
def test_a_node_exiting_with_an_error_ends_the_launch_nonzero(tmp_path, code):
    result = launch_standin.run(LAUNCH_FILE, tmp_dir=tmp_path, exit_code=lambda node: code)
    assert len(result.nodes) == 1
    assert result.returncode == 1
    assert any(f"activity_node exited with code {code}" in error for error in result.errors), result.errors


def test_a_node_exiting_cleanly_ends_the_launch_with_0(tmp_path):
    result = launch_standin.run(LAUNCH_FILE, tmp_dir=tmp_path, exit_code=lambda node: 0)
    assert len(result.nodes) == 1 and result.returncode == 0 and result.errors == []


@pytest.mark.parametrize("model", list(MODEL_SPECS))
def test_every_size_resolves_to_a_params_file_the_node_accepts(model, tmp_path):
    result = _run(tmp_path, model=model, device="cuda:1", image_topic="/robot/front/image")
    [node] = result.nodes
    params_file, overrides = node.parameters_evaluated
    assert Path(params_file) == ROOT / "config" / f"{get_spec(model).file_stem}.yaml" and Path(params_file).is_file()
    assert overrides["model"] == model and overrides["device"] == "cuda:1"
    assert ("image", "/robot/front/image") in node.remappings_evaluated
    values = _file_values(params_file)
    declared = {s.name: s for s in settings_for(NODE)}
    assert set(values) <= set(declared), set(values) - set(declared)
    assert values["model"] == model
    # The real node, started with the command line `ros2 launch` gives it, takes every value as given.
    started = _node_parameters(node.cmd)
    for name, value in {**values, **overrides}.items():
        assert started[name] == value, name
        assert type(value) is type(declared[name].default), name
