"""Errors of the runtime layer. All are ValueErrors whose message names the file, backend or shape at fault."""
from __future__ import annotations


class ModelFormatError(ValueError):
    """A file that is not a model, or not one this backend can run, or whose parts disagree."""


class InputShapeError(ValueError):
    """Clips that do not fit the model's input."""


class BackendUnavailable(ValueError):
    """A backend whose Python package, provider or device is missing on this machine."""
