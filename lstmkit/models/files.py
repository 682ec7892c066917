"""Where `Model.save` / `save_weights` / `load_weights` and `lstmkit.models.load_model` find the
file formats.

The formats live in `lstmkit.saving`, above models (saving builds models from configs), so models
cannot import them: imports point down only. Instead `lstmkit.saving` registers its functions
here when it is imported, which `import lstmkit` (and so any `import lstmkit.models`) always does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_FORMATS: dict[str, Callable[..., Any]] = {}


def register_file_functions(**functions: Callable[..., Any]) -> None:
    """Install the file functions (`save_model`, `save_weights`, `load_weights`, `load_model`;
    `export_onnx` from `lstmkit.export`)."""
    _FORMATS.update(functions)


def file_function(name: str) -> Callable[..., Any]:
    """The registered file function `name`, or a clear error if `lstmkit.saving` is not loaded."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise RuntimeError(
            f"{name}: lstmkit's file formats are not loaded; `import lstmkit` (or "
            "`import lstmkit.saving` / `lstmkit.export`) before saving, loading or exporting."
        ) from None
