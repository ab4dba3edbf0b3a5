"""Activity recognition on a camera topic: `ros2 launch ar_ros activity_recognition.launch.py model:=s`.

The node reads config/x3d_<model>.yaml. A launch argument left empty leaves that file's value, so editing the
installed file takes effect, and a given one overrides it. If the node exits with an error, the launch ends and
`ros2 launch` exits nonzero.
"""
import os

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from ar_core.models import MODEL_SPECS, get_spec

ARGUMENTS = (
    ("model", "xs", "model name; loads config/x3d_<model>.yaml"),
    ("device", "", "auto, cpu, cuda or cuda:N; empty: the params file's"),
    ("backend", "", "torch, torch-compile, onnxruntime, openvino, tensorrt or auto; empty: the params file's"),
    ("weights", "", "weights or exported model; empty: the params file's (there empty: the cached official "
                    "checkpoint)"),
    ("image_topic", "/camera/image_raw", "camera topic (sensor_msgs/Image; `<topic>/compressed` when compressed)"),
    ("image_transport", "", "raw or compressed; empty: the params file's"),
    ("inference", "", "clip or stream (a continual step per sampled frame); empty: the params file's"),
)
FROM_FILE_UNLESS_GIVEN = ("device", "backend", "weights", "image_transport", "inference")


def _fail_launch_on_error(event, context: LaunchContext) -> None:
    # `ros2 launch` exits with LaunchService.run's result: 1 only when an exception reaches the launch loop (a
    # Shutdown action would end it with 0). Raising here ends the launch and makes that result 1. An exit
    # during shutdown (ctrl-c) is not an error.
    if event.returncode != 0 and not context.is_shutdown:
        raise RuntimeError(f"activity_node exited with code {event.returncode}")


def _node(context: LaunchContext) -> list:
    # Resolved here, in the launch context, to plain strings: no nested substitution lists, which Jazzy's and
    # Humble's launch reject, and an empty argument can be left out.
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    share = FindPackageShare("ar_ros").perform(context)
    params_file = os.path.join(share, "config", f"{get_spec(value['model']).file_stem}.yaml")
    if not os.path.isfile(params_file):  # launch_ros would only warn and start the node without it
        raise FileNotFoundError(f"no params file for model '{value['model']}': {params_file}")
    overrides = {"model": value["model"], **{name: value[name] for name in FROM_FILE_UNLESS_GIVEN if value[name]}}
    topic = value["image_topic"]
    node = Node(
        package="ar_ros",
        executable="activity_node",
        name="activity_node",
        output="screen",
        parameters=[params_file, overrides],
        remappings=[("image", topic), ("image/compressed", f"{topic}/compressed")],
    )
    return [node, RegisterEventHandler(OnProcessExit(target_action=node, on_exit=_fail_launch_on_error))]


def generate_launch_description() -> LaunchDescription:
    # Declared first: launch checks `choices` when the argument is visited, so model:=xxl stops the launch before
    # the node starts.
    declared = [DeclareLaunchArgument(name, default_value=default, description=text,
                                      choices=list(MODEL_SPECS) if name == "model" else None)
                for name, default, text in ARGUMENTS]
    return LaunchDescription([*declared, OpaqueFunction(function=_node)])
