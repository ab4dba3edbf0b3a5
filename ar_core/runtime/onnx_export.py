"""Export an X3D network to ONNX, the format every non-torch backend starts from; the file carries its metadata.

ONNX interface:
    input  `clips`          float32 (N, 3, T, S, S): RGB normalised with the metadata's mean/std
    output `probabilities`  float32 (N, C): softmax class probabilities (the network is exported in eval mode)
N is dynamic (`batch_dynamic=True`) or 1; T and S are fixed to the metadata's frames and crop. The
metadata's JSON sits in `metadata_props` under `ar_core.metadata`, so `create_engine(file)` needs nothing else.

A stream model (metadata.inference == "stream", ar_core.models.streaming) is exported as its step:
    inputs  `frame` float32 (N, 3, S, S), `state_in_<k>` float32 (N, *metadata.stream.state_shapes[k])
    outputs `probabilities` (N, C), `state_out_<k>` (the states for the next step), k = 0..K-1
axis 0 of every input and output is the batch (dynamic, or 1).
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
FRAME_NAME = "frame"  # a stream step's input, beside its states


def state_input_names(count: int) -> list[str]:
    return [f"state_in_{k}" for k in range(count)]


def state_output_names(count: int) -> list[str]:
    return [f"state_out_{k}" for k in range(count)]

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
    batch = 2 if batch_dynamic else 1
    if metadata.inference == "stream":
        network = _streaming_network(network, metadata)
        examples = (torch.zeros((batch, *metadata.frame_shape), device=device),
                    *(torch.zeros((batch, *shape), device=device) for shape in metadata.stream.state_shapes))
        count = len(metadata.stream.state_shapes)
        input_names, output_names = [FRAME_NAME, *state_input_names(count)], [OUTPUT_NAME, *state_output_names(count)]
    else:
        examples = (torch.zeros((batch, *metadata.input_shape), device=device),)
        input_names, output_names = [INPUT_NAME], [OUTPUT_NAME]
    batch_axis = {0: torch.export.Dim("batch", min=1)}
    # torch.export sees a step's *states as one argument: a tuple of specs.
    dynamic = None if not batch_dynamic else (batch_axis,) if len(examples) == 1 else \
        (batch_axis, tuple(batch_axis for _ in examples[1:]))
    was_training = network.training
    network.eval()
    try:
        with warnings.catch_warnings(), _quiet("onnxscript", "onnx_ir", "torch.onnx"):
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter
            program = torch.onnx.export(network, examples, input_names=input_names, output_names=output_names,
                                        opset_version=opset, dynamo=True, optimize=True, dynamic_shapes=dynamic,
                                        do_constant_folding=do_constant_folding, verbose=False)
    finally:
        network.train(was_training)
    proto = program.model_proto
    written = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if written != opset:
        raise ValueError(f"torch.onnx.export could not convert the graph to opset {opset} (it wrote {written})")
    proto.doc_string = f"{metadata.title} activity recognition exported by ar_core"
    set_onnx_metadata(proto, metadata)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))
    log.info("exported ONNX %s (opset %d, batch %s)", path, opset, "dynamic" if batch_dynamic else "1")
    return path


def _streaming_network(network: nn.Module, metadata: ModelMetadata) -> nn.Module:
    """The step to export for stream metadata: `network` itself (a StreamingX3D), or an X3D made into one."""
    from ..models.streaming import StreamingX3D, to_streaming

    if not isinstance(network, StreamingX3D):
        network = to_streaming(network, metadata.stream.pool_frames)
    shapes = network.state_shapes(metadata.crop, metadata.crop)
    if network.pool_frames != metadata.stream.pool_frames or shapes != metadata.stream.state_shapes:
        raise ValueError(f"the stream network (pool {network.pool_frames}) does not match its metadata "
                         f"(pool {metadata.stream.pool_frames}, states at crop {metadata.crop})")
    return network


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
