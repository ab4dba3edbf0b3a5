"""ModelMetadata: round trips, validation that names the field, atomic JSON files, and the spec defaults."""
import json

import pytest

from ar_core import __version__
from ar_core.labels import kinetics400_labels
from ar_core.models import get_spec
from ar_core.models.metadata import MetadataError, ModelMetadata


def kinetics_xs(**changes) -> ModelMetadata:
    return ModelMetadata.for_spec(get_spec("xs"), kinetics400_labels()).replace(**changes)


def test_for_spec_takes_the_test_crop_and_the_spec_normalisation():
    meta = kinetics_xs()
    spec = get_spec("xs")
    assert (meta.model, meta.frames, meta.sampling_rate, meta.crop) == ("xs", 4, 12, spec.test_crop)
    assert meta.mean == spec.mean and meta.std == spec.std
    assert meta.classes == list(kinetics400_labels()) and meta.num_classes == 400
    assert meta.input_shape == (3, 4, 182, 182)
    assert meta.ar_core_version == __version__
    assert ModelMetadata.for_spec(get_spec("s"), ["a", "b"], crop=160).input_shape == (3, 13, 160, 160)


def test_dict_and_json_round_trip(tmp_path):
    meta = kinetics_xs(extra={"quantization": {"method": "qdq"}})
    assert ModelMetadata.from_dict(meta.to_dict()) == meta
    path = meta.write_json(tmp_path / "deep" / "x3d_xs.json")
    assert ModelMetadata.read_json(path) == meta
    assert json.loads(path.read_text())["classes"][0] == kinetics400_labels()[0]
    assert [p.name for p in path.parent.iterdir()] == ["x3d_xs.json"]  # no temp file left behind


@pytest.mark.parametrize("field, value, message", [
    ("model", "xxl", "field 'model' must be one of xs, s, m, l"),
    ("frames", 0, "field 'frames' must be an integer >= 1"),
    ("crop", 4.5, "field 'crop' must be an integer >= 8"),
    ("classes", [], "field 'classes' must be a non-empty list"),
    ("classes", ["a", "a"], "field 'classes' must not repeat names"),
    ("mean", [0.5, 0.5], "field 'mean' must be three numbers"),
    ("std", [0.2, 0.0, 0.2], "field 'std' must be positive"),
    ("extra", [1], "field 'extra' must be a JSON object"),
])
def test_bad_fields_are_named(field, value, message):
    data = {**kinetics_xs().to_dict(), field: value}
    with pytest.raises(MetadataError, match="model.json: " + message.replace("(", r"\(")):
        ModelMetadata.from_dict(data, source="model.json")


def test_missing_and_unknown_fields_and_bad_json(tmp_path):
    data = kinetics_xs().to_dict()
    del data["crop"]
    with pytest.raises(MetadataError, match="missing field.*crop"):
        ModelMetadata.from_dict(data)
    with pytest.raises(MetadataError, match="unknown field.*colour"):
        ModelMetadata.from_dict({**kinetics_xs().to_dict(), "colour": "red"})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MetadataError, match=f"{bad}: not valid JSON"):
        ModelMetadata.read_json(bad)
    with pytest.raises(MetadataError, match="metadata file not found"):
        ModelMetadata.read_json(tmp_path / "absent.json")


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = kinetics_xs().write_json(tmp_path / "m.json")
    before = path.read_text()
    monkeypatch.setattr(ModelMetadata, "to_json", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        kinetics_xs(crop=160).write_json(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]
