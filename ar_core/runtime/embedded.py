"""ModelMetadata stored inside exported files: ONNX `metadata_props` and OpenVINO `rt_info`.

Both hold the metadata's JSON under the key `ar_core.metadata`, so a file describes itself.
"""
from __future__ import annotations

from ..models.metadata import ModelMetadata

METADATA_KEY = "ar_core.metadata"


def set_onnx_metadata(proto, metadata: ModelMetadata) -> None:
    """Store `metadata` in an onnx.ModelProto, replacing any earlier entry."""
    kept = [p for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata.to_json()


def onnx_metadata(proto, source: str) -> ModelMetadata | None:
    for prop in proto.metadata_props:
        if prop.key == METADATA_KEY:
            return ModelMetadata.from_json(prop.value, source=f"{source} (metadata_props {METADATA_KEY})")
    return None


def set_openvino_metadata(model, metadata: ModelMetadata) -> None:
    """Store `metadata` in an openvino.Model's rt_info (saved into the .xml)."""
    model.set_rt_info(metadata.to_json(), METADATA_KEY.split("."))


def openvino_metadata(model, source: str) -> ModelMetadata | None:
    path = METADATA_KEY.split(".")
    if not model.has_rt_info(path):
        return None
    return ModelMetadata.from_json(model.get_rt_info(path).astype(str), source=f"{source} (rt_info {METADATA_KEY})")
