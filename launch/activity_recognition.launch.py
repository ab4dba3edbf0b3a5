"""Activity recognition on a camera topic: `ros2 launch ar_ros activity_recognition.launch.py model:=s`."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = (
    ("model", "xs", "X3D size: xs, s, m or l (loads config/x3d_<model>.yaml)"),
    ("device", "cpu", "cpu, cuda or cuda:N"),
    ("backend", "torch", "torch, torch-compile, onnxruntime, openvino, tensorrt or auto"),
    ("weights", "", "weights or exported model; empty: the cached official checkpoint"),
    ("image_topic", "/camera/image_raw", "camera topic (sensor_msgs/Image; `<topic>/compressed` when compressed)"),
    ("image_transport", "raw", "raw or compressed"),
)


def generate_launch_description() -> LaunchDescription:
    arg = {name: LaunchConfiguration(name) for name, _, _ in ARGUMENTS}
    params_file = PathJoinSubstitution([FindPackageShare("ar_ros"), "config", ["x3d_", arg["model"], ".yaml"]])
    node = Node(
        package="ar_ros",
        executable="activity_node",
        name="activity_node",
        output="screen",
        parameters=[params_file, {name: arg[name] for name in
                                  ("model", "device", "backend", "weights", "image_transport")}],
        remappings=[("image", arg["image_topic"]), ("image/compressed", [arg["image_topic"], "/compressed"])],
    )
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS]
    return LaunchDescription([*declared, node])
