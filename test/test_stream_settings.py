"""The stream settings schema is the one declaration of the frame path's settings: the node's parameters, the
streaming commands' flags and the params files all come from it."""
import re

import pytest
import rclpy
from rclpy.parameter import Parameter

from ar_core.cli import build_parser
from ar_core.stream import settings as schema
from ar_core.stream.settings import (BAG_EVAL, BAG_REPLAY, INFER, NODE, Setting, SettingsError, StreamSettings,
                                     load_settings, read_params_file, ros_arguments)
from ar_ros.activity_node import ActivityNode
from ar_ros.bag_replay import node_command


def help_flags(command: str, capsys) -> set[str]:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return set(re.findall(r"(--[a-z][a-z-]+)", capsys.readouterr().out))


def params_file(path, body: str):
    path.write_text("/**:\n  ros__parameters:\n" + "".join(f"    {line}\n" for line in body.splitlines()))
    return path


def test_a_setting_added_once_appears_in_the_node_the_flags_and_the_params_files(monkeypatch, tmp_path, capsys):
    added = Setting("frame_budget", 7, "a setting only this test knows", runtime=True, minimum=1,
                    callers=(NODE, BAG_EVAL, BAG_REPLAY))
    monkeypatch.setattr(schema, "SETTINGS", (*schema.SETTINGS, added))

    assert "--frame-budget" in help_flags("bag-eval", capsys)
    assert "--frame-budget" in help_flags("bag-replay", capsys)
    assert "--frame-budget" not in help_flags("infer", capsys)  # not one of its callers
    args = build_parser().parse_args(["bag-eval", "--bag", "b", "--topic", "t", "--truth", "y", "--out", "o",
                                      "--frame-budget", "3"])
    assert schema.from_arguments(args, BAG_EVAL).frame_budget == 3

    path = params_file(tmp_path / "p.yaml", "model: xs\nframe_budget: 9")
    assert read_params_file(path)["frame_budget"] == 9
    assert load_settings(BAG_EVAL, path).frame_budget == 9
    assert load_settings(INFER, path).to_dict().get("frame_budget") is None  # infer skips what it does not use
    with pytest.raises(SettingsError, match=r"bad.yaml:4: frame_budget must be >= 1"):
        read_params_file(params_file(tmp_path / "bad.yaml", "model: xs\nframe_budget: 0"))

    replayed = load_settings(BAG_REPLAY, path)
    assert "frame_budget:=9" in node_command(replayed, "/camera", compressed=False)

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = ActivityNode(context=context)
        descriptor = node.describe_parameter("frame_budget")
        assert node.get_parameter("frame_budget").value == 7
        assert descriptor.description == added.description and not descriptor.read_only
        assert not node.set_parameters([Parameter("frame_budget", value=0)])[0].successful  # the schema's check
        assert node.set_parameters([Parameter("frame_budget", value=4)])[0].successful
        assert node.describe_parameter("model").read_only  # not a runtime setting
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)


def test_params_files_name_the_key_the_file_and_the_line(tmp_path):
    unknown = params_file(tmp_path / "unknown.yaml", "model: xs\ntop_kk: 3")
    with pytest.raises(SettingsError, match=rf"{re.escape(str(unknown))}:4: unknown parameter 'top_kk'"):
        read_params_file(unknown)
    wrong_type = params_file(tmp_path / "type.yaml", "hop: two")
    with pytest.raises(SettingsError, match=r"type.yaml:3: hop must be a int, got 'two'"):
        read_params_file(wrong_type)
    choice = params_file(tmp_path / "choice.yaml", "model: xxl")
    with pytest.raises(SettingsError, match=r"choice.yaml:3: model must be one of xs, s, m, l"):
        read_params_file(choice)
    device = params_file(tmp_path / "device.yaml", "device: gpu0")
    with pytest.raises(SettingsError, match=r"device.yaml:3: device must be auto"):
        read_params_file(device)
    (tmp_path / "none.yaml").write_text("model: xs\n")
    with pytest.raises(SettingsError, match="no ros__parameters section"):
        read_params_file(tmp_path / "none.yaml")
    # rclpy's own parameters may stand in a params file; they are not the stream's.
    assert read_params_file(params_file(tmp_path / "sim.yaml", "use_sim_time: true\nhop: 2")) == {"hop": 2}


def test_every_shipped_params_file_reads_and_node_only_keys_are_skipped_elsewhere():
    for model in ("xs", "s", "m", "l"):
        values = read_params_file(f"config/x3d_{model}.yaml")
        assert values["model"] == model
        assert "qos_reliability" not in load_settings(BAG_EVAL, f"config/x3d_{model}.yaml")


def test_flags_override_the_file_and_help_shows_only_what_a_command_uses(tmp_path, capsys):
    path = params_file(tmp_path / "p.yaml", "top_k: 2\nhop: 3")
    settings = load_settings(BAG_EVAL, path, {"hop": 1, "top_k": None})
    assert (settings.top_k, settings.hop, settings.source) == (2, 1, str(path))
    flags = help_flags("bag-eval", capsys)
    assert {"--model", "--weights", "--device", "--labels", "--num-threads", "--top-k", "--hop"} <= flags
    assert not {"--image-transport", "--qos-reliability", "--autostart", "--threads", "--label-file"} & flags


def test_settings_are_checked_and_immutable():
    settings = StreamSettings(BAG_EVAL, {"top_k": 3, "score_threshold": 1})
    assert settings.score_threshold == 1.0 and isinstance(settings.score_threshold, float)
    assert settings.device == "auto"  # the default everywhere
    with pytest.raises(AttributeError):
        settings.top_k = 4
    with pytest.raises(SettingsError, match="top_k must be >= 1"):
        settings.replace(top_k=0)
    with pytest.raises(SettingsError, match="image_transport is not a setting of bag-eval"):
        StreamSettings(BAG_EVAL, {"image_transport": "raw"})


def test_ros_arguments_quote_strings_so_ros_reads_them_back_as_strings():
    args = ros_arguments({"weights": "123", "labels": "", "hop": 2, "score_threshold": 0.5, "autostart": False})
    assert args == ["-p", "weights:='123'", "-p", "labels:=''", "-p", "hop:=2", "-p", "score_threshold:=0.5",
                    "-p", "autostart:=false"]
