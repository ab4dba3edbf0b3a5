"""A stand-in for ROS 2 `launch`, `launch_ros` and `ros2 launch`, which cannot be installed here (not on PyPI).

It is a test double by necessity. It models the parts of Jazzy's launch 3.4.3 and launch_ros 0.26.6 that a launch
file meets (read in their sources; Humble's launch 1.0.7 / launch_ros 0.19 behave the same in each point below), and
it is at least as strict as they are:

- Every argument that the real API normalizes as a SomeSubstitutionsType (a str, a Substitution or an iterable of
  those) is normalized the same way here, and anything else raises the same TypeError. One example is a list nested
  inside PathJoinSubstitution's list: "Failed to normalize given item of type '<class 'list'>', when only 'str' or
  'launch.Substitution' were expected." Only launch releases after Jazzy's accept that form.
- DeclareLaunchArgument checks `choices` the way 3.4 does. The list must not be empty, and a literal default must
  be one of the choices (both checked when the action is built). The value given must be one of them too; that is
  checked when the action runs, before any later action in the description.
- launch_ros Node: `parameters` must be a list. A dict is normalized and evaluated with launch_ros's YAML rules and
  written to a params file under the node's name. A params file path that is not a file only warns and is left
  out, as in launch_ros. Each remapping must be a 2-tuple.
- `run()` models LaunchService.run, whose result is the exit code of `ros2 launch` (ros2launch/api/api.py
  returns it and ros2cli passes it on). That result is 1 when an exception reaches the launch loop, either while
  actions are visited or in an event handler, and 0 otherwise; a Shutdown action alone gives 0. No process really
  runs: the test says with which return code each node's process exits. The ProcessExited events reach the
  registered handlers once the whole description has been visited, because a real process can only exit after
  the launch has started it and registered its handlers.

Anything the stand-in does not model (conditions, array parameters, other actions) is missing or raises, so a launch
file that uses it fails here rather than passing untested. FindPackageShare resolves through `share_dirs`; by
default that is the source tree, whose launch/ and config/ are what setup.py installs into share/ar_ros.
"""
from __future__ import annotations

import collections.abc
import importlib.util
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ launch: entities, context, substitutions
class LaunchDescriptionEntity:
    def visit(self, context: LaunchContext) -> list | None:
        return None


class Action(LaunchDescriptionEntity):
    def visit(self, context: LaunchContext) -> list | None:
        return self.execute(context)

    def execute(self, context: LaunchContext) -> list | None:
        return None


class Substitution:
    def perform(self, context: LaunchContext) -> str:
        raise NotImplementedError


SomeSubstitutionsType = Union[str, Substitution, Iterable[Union[str, Substitution]]]


class SubstitutionFailure(RuntimeError):
    pass


class PackageNotFoundError(KeyError):
    pass


class LaunchContext:
    def __init__(self, tmp_dir: str, share_dirs: dict[str, str]):
        self.launch_configurations: dict[str, str] = {}
        self.tmp_dir = tmp_dir
        self.share_dirs = share_dirs
        self.warnings: list[str] = []
        self.started: list[Node] = []  # nodes whose process was started, in order
        self._event_handlers: list[OnProcessExit] = []
        self._is_shutdown = False

    @property
    def is_shutdown(self) -> bool:
        return self._is_shutdown

    def register_event_handler(self, event_handler: OnProcessExit, append: bool = False) -> None:
        # As in launch: a new handler goes first unless appended.
        if append:
            self._event_handlers.append(event_handler)
        else:
            self._event_handlers.insert(0, event_handler)


class TextSubstitution(Substitution):
    def __init__(self, *, text: str):
        if not isinstance(text, str):
            raise TypeError(f"TextSubstitution expected Text object got '{type(text)}' instead.")
        self.text = text

    def perform(self, context: LaunchContext) -> str:
        return self.text


def normalize_to_list_of_substitutions(subs: SomeSubstitutionsType) -> list[Substitution]:
    """launch's rule: a str or a Substitution, or an iterable whose items are each one of those (nothing nested)."""
    def one(item: object) -> Substitution:
        if isinstance(item, Substitution):
            return item
        if isinstance(item, str):
            return TextSubstitution(text=item)
        raise TypeError(f"Failed to normalize given item of type '{type(item)}', when only "
                        "'str' or 'launch.Substitution' were expected.")

    if isinstance(subs, str):
        return [TextSubstitution(text=subs)]
    if isinstance(subs, Substitution):
        return [subs]
    return [one(item) for item in subs]  # a non-iterable raises TypeError here, as in launch


def perform_substitutions(context: LaunchContext, subs: list[Substitution]) -> str:
    return "".join(sub.perform(context) for sub in subs)


def ensure_argument_type(argument: object, types_: type | tuple[type, ...], name: str, caller: str | None = None):
    if not isinstance(argument, types_):
        names = ", ".join(str(t) for t in (types_ if isinstance(types_, tuple) else (types_,)))
        who = "E" if caller is None else f"'{caller}' e"
        raise TypeError(f"{who}xpected '{name}' to be one of [{names}], but got '{argument}' of type "
                        f"'{type(argument)}'")


class LaunchConfiguration(Substitution):
    def __init__(self, variable_name: SomeSubstitutionsType, *, default: Any = None):
        self.variable_name = normalize_to_list_of_substitutions(variable_name)
        self.default = None
        if default is not None:
            items = default if isinstance(default, collections.abc.Iterable) else (default,)
            self.default = normalize_to_list_of_substitutions(
                [item if isinstance(item, (str, Substitution)) else str(item) for item in items])

    def perform(self, context: LaunchContext) -> str:
        name = perform_substitutions(context, self.variable_name)
        if name in context.launch_configurations:
            return context.launch_configurations[name]
        if self.default is None:
            raise SubstitutionFailure(f"launch configuration '{name}' does not exist")
        return perform_substitutions(context, self.default)


class PathJoinSubstitution(Substitution):
    def __init__(self, substitutions: Iterable[str | Substitution]):
        self.substitutions = normalize_to_list_of_substitutions(substitutions)

    def perform(self, context: LaunchContext) -> str:
        return os.path.join(*(sub.perform(context) for sub in self.substitutions))


class FindPackageShare(Substitution):
    def __init__(self, package: SomeSubstitutionsType):
        self.package = normalize_to_list_of_substitutions(package)

    def perform(self, context: LaunchContext) -> str:
        name = perform_substitutions(context, self.package)
        if name not in context.share_dirs:
            raise PackageNotFoundError(f"package '{name}' not found")
        return context.share_dirs[name]


# ------------------------------------------------------------------ launch: description and actions
class LaunchDescription(LaunchDescriptionEntity):
    def __init__(self, initial_entities: Iterable[LaunchDescriptionEntity] | None = None):
        self.entities = list(initial_entities) if initial_entities is not None else []

    def visit(self, context: LaunchContext) -> list:
        return self.entities


class DeclareLaunchArgument(Action):
    def __init__(self, name: str, *, default_value: SomeSubstitutionsType | None = None,
                 description: str | None = None, choices: list[str] | None = None):
        self.name = name
        self.default_value = None if default_value is None else normalize_to_list_of_substitutions(default_value)
        if choices is not None:
            if len(choices) == 0:
                raise RuntimeError("Provided choices arg is empty. Use None to ignore the choice list.")
            # launch checks a literal default here, a substituted one only when the action runs.
            if default_value is not None and not isinstance(default_value, (Substitution, list)):
                if default_value not in choices:
                    raise RuntimeError(
                        f'Provided default_value "{default_value}" is not in provided choices "{choices}".')
        if description is None:
            self.description = "no description given" if choices is None else f"One of: {choices}"
        else:
            self.description = description
            if choices is not None:
                self.description += ("" if description.endswith(".") else ".") + f" Valid choices are: {choices}"
        self.choices = choices

    def execute(self, context: LaunchContext) -> None:
        if self.name not in context.launch_configurations:
            if self.default_value is None:
                raise RuntimeError(f'Required launch argument "{self.name}" was not provided.')
            context.launch_configurations[self.name] = perform_substitutions(context, self.default_value)
        value = context.launch_configurations[self.name]
        if self.choices is not None and value not in self.choices:
            raise RuntimeError(f'Argument "{self.name}" provided value "{value}" is not valid. '
                               f"Valid options are: {self.choices}")


class OpaqueFunction(Action):
    def __init__(self, *, function: Callable, args: Iterable | None = None, kwargs: dict | None = None):
        if not callable(function):
            raise TypeError(f"OpaqueFunction expected a callable for 'function', got '{type(function)}'")
        ensure_argument_type(args, (collections.abc.Iterable, type(None)), "args", "OpaqueFunction")
        ensure_argument_type(kwargs, (dict, type(None)), "kwargs", "OpaqueFunction")
        self.function, self.args, self.kwargs = function, list(args or ()), dict(kwargs or {})

    def execute(self, context: LaunchContext) -> list | None:
        return self.function(context, *self.args, **self.kwargs)


@dataclass
class ProcessExited:
    """The event launch emits when a process ends (same attribute names as launch.events.process)."""

    action: ExecuteProcess
    name: str
    cmd: list[str]
    returncode: int


class OnProcessExit:
    def __init__(self, *, target_action: ExecuteProcess | Callable | None = None,
                 on_exit: LaunchDescriptionEntity | Iterable | Callable):
        if not isinstance(target_action, (ExecuteProcess, type(None))) and not callable(target_action):
            raise TypeError("action_matcher must be an 'ExecuteLocal' instance or a callable")
        self.target_action = target_action
        self.on_exit = on_exit
        self.entities: list[LaunchDescriptionEntity] = []
        if not callable(on_exit):
            items = on_exit if isinstance(on_exit, collections.abc.Iterable) else [on_exit]
            for entity in items:
                if not isinstance(entity, LaunchDescriptionEntity):
                    raise TypeError("expected all items in 'on_event' iterable to be of type "
                                    f"'LaunchDescriptionEntity' but got '{type(entity)}'")
            self.entities = list(items)

    def matches(self, event: object) -> bool:
        if not isinstance(event, ProcessExited):
            return False
        if isinstance(self.target_action, ExecuteProcess):
            return event.action is self.target_action
        if callable(self.target_action):
            return self.target_action(event.action)
        return True

    def handle(self, event: ProcessExited, context: LaunchContext) -> Any:
        return self.entities or self.on_exit(event, context)


class RegisterEventHandler(Action):
    def __init__(self, event_handler: OnProcessExit):
        ensure_argument_type(event_handler, OnProcessExit, "event_handler", "RegisterEventHandler")
        self.event_handler = event_handler

    def execute(self, context: LaunchContext) -> None:
        context.register_event_handler(self.event_handler)


# The keyword arguments ExecuteProcess / ExecuteLocal take besides the command (launch 3.4.3).
_PROCESS_OPTIONS = {"prefix", "cwd", "env", "additional_env", "shell", "sigterm_timeout", "sigkill_timeout",
                    "emulate_tty", "output_format", "cached_output", "log_cmd", "on_exit", "respawn",
                    "respawn_delay", "respawn_max_retries"}


class ExecuteProcess(Action):
    """Only as the base of Node: the stand-in runs no plain processes."""

    def __init__(self, *, output: SomeSubstitutionsType = "log", **options):
        unknown = set(options) - _PROCESS_OPTIONS
        if unknown:
            raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
        self.output = normalize_to_list_of_substitutions(output)
        self.options = options


# ------------------------------------------------------------------ launch_ros
_NODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _normalize_parameter_dict(parameters: Mapping, prefix: list[Substitution] | None = None) -> dict:
    """launch_ros's normalize_parameter_dict: keys become substitutions, str values go through yaml.dump."""
    if not isinstance(parameters, Mapping):
        raise TypeError("expected dict")
    normalized = {}
    for name, value in parameters.items():
        key = normalize_to_list_of_substitutions(name)
        if prefix:
            key = [*prefix, TextSubstitution(text="."), *key]
        if isinstance(value, Mapping):
            normalized.update(_normalize_parameter_dict(value, key))
        elif isinstance(value, str):
            normalized[tuple(key)] = tuple(normalize_to_list_of_substitutions(yaml.dump(value)))
        elif isinstance(value, Substitution):
            normalized[tuple(key)] = (value,)
        elif isinstance(value, (float, bool, int, bytes)):
            normalized[tuple(key)] = value
        elif isinstance(value, collections.abc.Sequence):
            raise NotImplementedError("the launch stand-in does not model array parameters")
        else:
            raise TypeError(f"Unexpected type for parameter value {value!r}")
    return normalized


def _evaluate_parameter_dict(context: LaunchContext, parameters: dict) -> dict:
    """launch_ros's evaluate_parameter_dict: substituted text is read as YAML ('' stays an empty string)."""
    evaluated = {}
    for key, value in parameters.items():
        name = perform_substitutions(context, list(key))
        if isinstance(value, tuple):
            text = perform_substitutions(context, list(value)) or "''"
            try:
                value = yaml.safe_load(text)
            except yaml.YAMLError:
                raise TypeError(f"Unable to parse the value of parameter {name} as yaml.") from None
            if type(value) not in (bool, int, float, str, bytes):
                raise TypeError(f"Allowed value types are bytes, bool, int, float, str. Got {type(value)} for "
                                f'"{name}".')
        evaluated[name] = value
    return evaluated


class Node(ExecuteProcess):
    def __init__(self, *, executable: SomeSubstitutionsType, package: SomeSubstitutionsType | None = None,
                 name: SomeSubstitutionsType | None = None, namespace: SomeSubstitutionsType | None = None,
                 exec_name: SomeSubstitutionsType | None = None, parameters: list | None = None,
                 remappings: Iterable[tuple] | None = None, ros_arguments: Iterable | None = None,
                 arguments: Iterable | None = None, **process_options):
        super().__init__(**process_options)
        self.executable = normalize_to_list_of_substitutions(executable)
        self.package = None if package is None else normalize_to_list_of_substitutions(package)
        self.node_name = None if name is None else normalize_to_list_of_substitutions(name)
        self.namespace = None if namespace is None else normalize_to_list_of_substitutions(namespace)
        self.exec_name = None if exec_name is None else normalize_to_list_of_substitutions(exec_name)
        self.arguments = [normalize_to_list_of_substitutions(a) for a in arguments or ()]
        self.ros_arguments = [normalize_to_list_of_substitutions(a) for a in ros_arguments or ()]
        self.parameters: list = []
        if parameters is not None:
            ensure_argument_type(parameters, list, "parameters", "Node")
            for param in parameters:
                if isinstance(param, Mapping):
                    self.parameters.append(_normalize_parameter_dict(param))
                else:  # a params file path
                    ensure_argument_type(param, (str, Substitution, collections.abc.Iterable, os.PathLike, bytes),
                                         "param_file", "ParameterFile()")
                    self.parameters.append(param if isinstance(param, (os.PathLike, bytes))
                                           else normalize_to_list_of_substitutions(param))
        self.remappings = []
        for rule in remappings or ():
            ensure_argument_type(rule, tuple, "remap_rule")
            if len(rule) != 2:
                raise TypeError(f"remap_rule must be a tuple of length 2, got length {len(rule)}")
            self.remappings.append(tuple(normalize_to_list_of_substitutions(side) for side in rule))
        # Filled in when the action runs: what `ros2 launch` would have started.
        self.cmd: list[str] = []
        self.parameters_evaluated: list[Path | dict] = []
        self.remappings_evaluated: list[tuple[str, str]] = []

    def execute(self, context: LaunchContext) -> None:
        if context.is_shutdown:  # launch starts no process once shutting down
            return
        performed = lambda subs: perform_substitutions(context, subs)  # noqa: E731
        ros_args = []
        if self.node_name is not None:
            name = performed(self.node_name)
            if not _NODE_NAME.fullmatch(name):
                raise ValueError(f"invalid node name '{name}'")
            ros_args += ["-r", f"__node:={name}"]
        if self.namespace is not None:
            ros_args += ["-r", f"__ns:={performed(self.namespace)}"]
        for param in self.parameters:
            if isinstance(param, dict):
                values = _evaluate_parameter_dict(context, param)
                self.parameters_evaluated.append(values)
                # launch_ros writes a dict under the node's full name when it has one, else under /**.
                scope = f"/{performed(self.node_name)}" if self.node_name is not None else "/**"
                with tempfile.NamedTemporaryFile("w", prefix="launch_params_", suffix=".yaml",
                                                 dir=context.tmp_dir, delete=False) as out:
                    yaml.dump({scope: {"ros__parameters": values}}, out, default_flow_style=False)
                ros_args += ["--params-file", out.name]
                continue
            path = Path(param if isinstance(param, (os.PathLike, bytes)) else performed(param))
            if not path.is_file():
                context.warnings.append(f"Parameter file path is not a file: {path}")
                continue
            self.parameters_evaluated.append(path)
            ros_args += ["--params-file", str(path)]
        for source, target in self.remappings:
            self.remappings_evaluated.append((performed(source), performed(target)))
            ros_args += ["-r", f"{self.remappings_evaluated[-1][0]}:={self.remappings_evaluated[-1][1]}"]
        executable = performed(self.executable)
        if self.package is not None:
            executable = os.path.join("lib", performed(self.package), executable)
        self.cmd = [executable, *map(performed, self.arguments)]
        if self.ros_arguments:
            self.cmd += ["--ros-args", *map(performed, self.ros_arguments)]
        self.cmd += ["--ros-args", *ros_args]
        context.started.append(self)
        if self.options.get("on_exit") is not None:  # ExecuteLocal registers its own on_exit handler
            context.register_event_handler(OnProcessExit(target_action=self, on_exit=self.options["on_exit"]))


# ------------------------------------------------------------------ loading and running
@contextmanager
def installed():
    """Makes `import launch`, `launch.actions`, ... and `launch_ros.*` resolve to this stand-in."""
    modules = {
        "launch": dict(LaunchDescription=LaunchDescription, LaunchContext=LaunchContext,
                       LaunchDescriptionEntity=LaunchDescriptionEntity, Action=Action, Substitution=Substitution,
                       SomeSubstitutionsType=SomeSubstitutionsType),
        "launch.actions": dict(DeclareLaunchArgument=DeclareLaunchArgument, ExecuteProcess=ExecuteProcess,
                               OpaqueFunction=OpaqueFunction, RegisterEventHandler=RegisterEventHandler),
        "launch.event_handlers": dict(OnProcessExit=OnProcessExit),
        "launch.events": {},
        "launch.events.process": dict(ProcessExited=ProcessExited),
        "launch.some_substitutions_type": dict(SomeSubstitutionsType=SomeSubstitutionsType),
        "launch.substitutions": dict(LaunchConfiguration=LaunchConfiguration,
                                     PathJoinSubstitution=PathJoinSubstitution, TextSubstitution=TextSubstitution,
                                     SubstitutionFailure=SubstitutionFailure),
        "launch.utilities": dict(normalize_to_list_of_substitutions=normalize_to_list_of_substitutions,
                                 perform_substitutions=perform_substitutions),
        "launch_ros": {},
        "launch_ros.actions": dict(Node=Node),
        "launch_ros.substitutions": dict(FindPackageShare=FindPackageShare),
    }
    saved = {name: sys.modules.get(name) for name in modules}
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:  # `import launch` then `launch.actions.X` works too
            setattr(sys.modules[parent], child, module)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def load_launch_description(path: str | Path) -> LaunchDescription:
    """What `ros2 launch` does first: import the file and call its generate_launch_description()."""
    with installed():
        spec = importlib.util.spec_from_file_location("launch_under_test", str(path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.generate_launch_description()


@dataclass
class LaunchResult:
    returncode: int  # what `ros2 launch` exits with
    nodes: list[Node]  # the nodes whose process was started
    errors: list[str] = field(default_factory=list)  # "Caught exception in launch" messages
    warnings: list[str] = field(default_factory=list)


def _visit(entity: LaunchDescriptionEntity, context: LaunchContext) -> None:
    """Depth first, in order, as launch's visit_all_entities_and_collect_futures."""
    for sub in entity.visit(context) or ():
        if not isinstance(sub, LaunchDescriptionEntity):
            raise RuntimeError(f"expected a LaunchDescriptionEntity, got '{sub}'")
        _visit(sub, context)


def _dispatch(event: ProcessExited, context: LaunchContext) -> None:
    for handler in tuple(context._event_handlers):
        if handler.matches(event):
            entities = handler.handle(event, context)
            entities = entities if isinstance(entities, collections.abc.Iterable) else (entities,)
            for entity in [e for e in entities if e is not None]:
                if not isinstance(entity, LaunchDescriptionEntity):
                    raise RuntimeError(f"expected a LaunchDescriptionEntity from event_handler, got '{entity}'")
                _visit(entity, context)


def run(path: str | Path, arguments: dict[str, str] | None = None, *,
        exit_code: Callable[[Node], int] = lambda node: 0, tmp_dir: str | Path | None = None,
        share_dirs: dict[str, str] | None = None) -> LaunchResult:
    """`ros2 launch <path> name:=value ...`: its exit code, the nodes it started, what it logged.

    `exit_code(node)` is the test's stand-in for the node's process: the code it exits with.
    """
    context = LaunchContext(str(tmp_dir or tempfile.mkdtemp(prefix="launch_standin_")),
                            share_dirs or {"ar_ros": str(ROOT)})
    # ros2 launch includes the file with the command line's name:=value pairs set as launch configurations.
    context.launch_configurations.update(arguments or {})
    errors: list[str] = []

    def guarded(step: Callable[[], None]) -> None:
        # LaunchService: an exception in the loop is logged, starts the shutdown and makes the result 1.
        try:
            step()
        except Exception as err:
            errors.append(f"Caught exception in launch (see debug for traceback): {err}")
            context._is_shutdown = True

    guarded(lambda: _visit(load_launch_description(path), context))
    exited = 0
    while exited < len(context.started):
        node = context.started[exited]
        exited += 1
        event = ProcessExited(action=node, name=node.cmd[0], cmd=node.cmd, returncode=exit_code(node))
        guarded(lambda: _dispatch(event, context))
    return LaunchResult(returncode=1 if errors else 0, nodes=list(context.started), errors=errors,
                        warnings=context.warnings)
