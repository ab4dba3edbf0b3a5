"""A stand-in for the ROS 2 `launch` / `launch_ros` API, which cannot be installed here (not on PyPI).

It is a test double by necessity: it records the actions a launch file builds and resolves the substitutions
the ar_ros launch file uses (LaunchConfiguration, PathJoinSubstitution, FindPackageShare, lists of text), so a
test can check what `ros2 launch` would run. FindPackageShare resolves to the source tree, whose launch/ and
config/ are what setup.py installs into share/ar_ros.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from contextlib import contextmanager


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchDescription(_Recorded):
    @property
    def entities(self):
        return self.args[0]


class DeclareLaunchArgument(_Recorded):
    @property
    def name(self):
        return self.args[0]


class Node(_Recorded):
    pass


class LaunchConfiguration(_Recorded):
    pass


class PathJoinSubstitution(_Recorded):
    pass


class FindPackageShare(_Recorded):
    pass


def resolve(value, arguments: dict[str, str], share_dirs: dict[str, str]):
    """What `launch` would substitute at run time."""
    if isinstance(value, str):
        return value
    if isinstance(value, LaunchConfiguration):
        return arguments[value.args[0]]
    if isinstance(value, FindPackageShare):
        return share_dirs[value.args[0]]
    if isinstance(value, PathJoinSubstitution):
        return os.path.join(*(resolve(part, arguments, share_dirs) for part in value.args[0]))
    if isinstance(value, (list, tuple)):
        return "".join(resolve(part, arguments, share_dirs) for part in value)
    if isinstance(value, dict):
        return {k: resolve(v, arguments, share_dirs) for k, v in value.items()}
    raise TypeError(f"stand-in cannot resolve {value!r}")


@contextmanager
def installed():
    """Makes `import launch`, `launch.actions`, ... and `launch_ros.*` resolve to this stand-in."""
    modules = {
        "launch": dict(LaunchDescription=LaunchDescription),
        "launch.actions": dict(DeclareLaunchArgument=DeclareLaunchArgument),
        "launch.substitutions": dict(LaunchConfiguration=LaunchConfiguration,
                                     PathJoinSubstitution=PathJoinSubstitution),
        "launch_ros": {},
        "launch_ros.actions": dict(Node=Node),
        "launch_ros.substitutions": dict(FindPackageShare=FindPackageShare),
    }
    saved = {name: sys.modules.get(name) for name in modules}
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_launch_description(path: str) -> LaunchDescription:
    with installed():
        spec = importlib.util.spec_from_file_location("launch_under_test", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.generate_launch_description()
