"""Export an X3D network to ONNX, the format every non-torch backend starts from; the file carries its metadata.

ONNX interface:
    input  `clips`          float32 (N, 3, T, S, S): RGB normalised with the metadata's mean/std
    output `probabilities`  float32 (N, C): softmax class probabilities (the network is exported in eval mode)
N is dynamic (`batch_dynamic=True`) or 1; T and S are fixed to the metadata's frames and crop. The
metadata's JSON sits in `metadata_props` under `ar_core.metadata`, so `create_engine(file)` needs nothing else.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from ..models.metadata import ModelMetadata
from .base import require_package
from .cache import runtime_cache_dir
from .embedded import set_onnx_metadata
from .sources import ModelSource

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "clips", "probabilities"
# The exporter writes opset 18 and converts to others on request; down to 17 it fails on X3D's graph
# (measured with torch 2.13: it logs the failure and keeps 18), so 18 is also the lowest offered.
MIN_OPSET = DEFAULT_OPSET = 18


def export_onnx(network: nn.Module, metadata: ModelMetadata, path: str | os.PathLike, batch_dynamic: bool = True,
                opset: int = DEFAULT_OPSET, do_constant_folding: bool = False) -> Path:
    """Write `network` (in eval mode: it outputs probabilities) as ONNX at `path`, atomically.

    Uses torch.export-based exporter with its graph optimizer, which folds BatchNorm into the convolutions.
    `do_constant_folding` is handed to torch.onnx.export, whose current exporter always folds constants (the
    flag is deprecated there), so both values give the same graph.
    """
    onnx = require_package("onnx", "export to ONNX")
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be {MIN_OPSET} or higher, got {opset}")
    path = Path(path)
    parameter = next(network.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    # Batch 2, not 1: torch.export specialises dimensions of size 1 to constants.
    example = torch.zeros((2 if batch_dynamic else 1, *metadata.input_shape), device=device)
    dynamic = {INPUT_NAME: {0: torch.export.Dim("batch", min=1)}} if batch_dynamic else None
    was_training = network.training
    network.eval()
    try:
        with warnings.catch_warnings(), _quiet("onnxscript", "onnx_ir", "torch.onnx"):
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter
            program = torch.onnx.export(network, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                        opset_version=opset, dynamo=True, optimize=True, dynamic_shapes=dynamic,
                                        do_constant_folding=do_constant_folding, verbose=False)
    finally:
        network.train(was_training)
    proto = program.model_proto
    written = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if written != opset:
        raise ValueError(f"torch.onnx.export could not convert the graph to opset {opset} (it wrote {written})")
    proto.doc_string = f"X3D-{metadata.model.upper()} activity recognition exported by ar_core"
    set_onnx_metadata(proto, metadata)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    log.info("exported ONNX %s (opset %d, batch %s)", path, opset, "dynamic" if batch_dynamic else "1")
    return path


def cached_onnx(source: ModelSource, cache_dir: str | os.PathLike | None = None) -> Path:
    """The ONNX file for a torch source: exported once into the runtime cache, keyed by weights + metadata."""
    if source.kind == "onnx":
        return source.path
    if source.kind != "torch":
        raise ValueError(f"{source.name} holds a model of kind {source.kind!r}; it cannot be converted to ONNX")
    path = runtime_cache_dir(cache_dir) / "onnx" / f"{source.digest}.onnx"
    if not path.is_file():
        export_onnx(source.module, source.metadata, path)
    return path


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Keep the exporter's per-pass INFO messages out of the log while it runs."""
    saved = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
