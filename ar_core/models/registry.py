"""The one model registry: every name `model` may take, and building it.

    get_spec("r2plus1d_18")            # its ModelSpec: input, published figures, file naming
    build_model("s3d", num_classes=4)  # the network, as every caller gets it

Each family module (x3d.py, resnet3d.py, s3d.py, slowfast.py, lrcn.py, fstcn.py, mobilenetv3_3d.py) lists its
entries; this module turns them into ModelSpecs and is the only place that knows which builder makes which name.
Every network built here follows one contract, whatever its family: forward takes clips (N, 3, T, H, W)
normalised with the spec's mean/std and returns logits in train mode and class probabilities in eval mode, and
it carries `.spec` and `.num_classes`. So training, export, the runtimes, the node and bag-eval have no
model-specific branches.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from . import fstcn, lrcn, mobilenetv3_3d, resnet3d, s3d, slowfast, x3d
from .specs import KINETICS_CLASSES, ModelSpec


def _from_entries(module) -> dict[str, tuple[ModelSpec, Callable[..., nn.Module]]]:
    """A family module's ENTRIES (plain facts + a builder(num_classes, dropout_rate)) as specs."""
    family = module.__name__.rsplit(".", 1)[-1]
    out = {}
    for name, facts in module.ENTRIES.items():
        spec = ModelSpec(name, facts.get("title", name), family, facts["frames"], facts["sampling_rate"],
                         facts["train_crop"], facts["test_crop"], tuple(facts["mean"]), tuple(facts["std"]),
                         file_stem=name, checkpoint=facts.get("checkpoint"), params=facts.get("params"),
                         gflops=facts.get("gflops"), figures_input=facts.get("figures_input"),
                         source=facts.get("source", ""), dropout_rate=_default_dropout(facts["builder"]))
        out[name] = (spec, facts["builder"])
    return out


def _default_dropout(builder: Callable[..., nn.Module]) -> float:
    import inspect

    return float(inspect.signature(builder).parameters["dropout_rate"].default)


_BUILDERS: dict[str, tuple[ModelSpec, Callable[..., nn.Module]]] = {
    **{spec.name: (spec, None) for spec in x3d.SPECS},
    **{name: entry for module in (resnet3d, s3d, slowfast, lrcn, fstcn, mobilenetv3_3d)
       for name, entry in _from_entries(module).items()},
}
MODEL_SPECS: Mapping[str, ModelSpec] = {name: spec for name, (spec, _) in _BUILDERS.items()}


def get_spec(name: str) -> ModelSpec:
    """The entry for `name` ('xs', 'x3d_xs' and 'X3D-XS' all name X3D-XS), or a ValueError listing the registry."""
    key = name.lower().replace("-", "_")
    if key not in MODEL_SPECS and key.removeprefix("x3d_") in x3d.X3D_SIZES:
        key = key.removeprefix("x3d_")
    if key not in MODEL_SPECS:
        raise ValueError(f"unknown model {name!r}; the registry has: {', '.join(MODEL_SPECS)}")
    return MODEL_SPECS[key]


def build_model(name: str, num_classes: int = KINETICS_CLASSES, frames: int = 0,
                dropout_rate: float | None = None) -> nn.Module:
    """The network registered as `name`, with a `num_classes`-way classifier (new and untrained where it
    differs from a checkpoint's), for `frames`-frame clips (0: the recipe's; X3D's head pools over them) and
    `dropout_rate` before the classifier (None: the recipe's)."""
    spec = get_spec(name).with_input(frames=frames)
    dropout_rate = spec.dropout_rate if dropout_rate is None else dropout_rate
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    builder = _BUILDERS[spec.name][1]
    if builder is None:  # X3D: its head already gives probabilities in eval mode
        return x3d.build_x3d(spec, num_classes, dropout_rate)
    network = builder(num_classes=num_classes, dropout_rate=dropout_rate)
    network.spec, network.num_classes = spec, num_classes
    network.register_forward_hook(_probabilities_in_eval)
    return network


def _probabilities_in_eval(module: nn.Module, inputs, logits: torch.Tensor) -> torch.Tensor:
    return logits if module.training else logits.softmax(dim=-1)


def classifier_axes(network: nn.Module) -> dict[str, int]:
    """State-dict key -> class axis of each tensor whose shape follows the class count (the classifier a new
    class count replaces; axis 0 for a Linear's weight, 1 for OTE's cosine head, which stores embedding x
    classes): found by building the same entry with one class more, on the meta device."""
    with torch.device("meta"):
        other = build_model(network.spec.name, network.num_classes + 1, frames=network.spec.frames).state_dict()
    axes = {key: next(axis for axis, (a, b) in enumerate(zip(tensor.shape, other[key].shape)) if a != b)
            for key, tensor in network.state_dict().items() if other[key].shape != tensor.shape}
    if not axes:
        raise ValueError(f"{network.spec.title}: no tensor follows the class count")
    return axes


def classifier_keys(network: nn.Module) -> tuple[str, ...]:
    """State-dict keys of the classifier tensors (see classifier_axes)."""
    return tuple(classifier_axes(network))


def checkpoint_classes(name: str, state: Mapping[str, torch.Tensor]) -> int | None:
    """The class count of a state dict of entry `name`, read along its classifier's class axis; None when
    the state dict has no such classifier."""
    with torch.device("meta"):
        key, axis = next(iter(classifier_axes(build_model(name)).items()))
    return state[key].shape[axis] if key in state and state[key].ndim > axis else None


def identify(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Registry names whose networks have exactly the keys of `state` (shapes aside: the class count and the
    frames may differ), best first: what a checkpoint of unknown architecture holds."""
    keys = set(state)
    found = []
    with torch.device("meta"):
        for name in MODEL_SPECS:
            own = set(build_model(name).state_dict())
            if own == keys:
                found.append(name)
    return found
