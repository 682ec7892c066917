"""Keras names lstmkit does not support: a clear error pointing to docs/keras_catalogue.md.

Each public namespace (`lstmkit.layers`, `lstmkit.utils`, ...) sets
`__getattr__ = catalogue.module_getattr("layers", __name__)`. Python calls it only for names the
module lacks: a Keras name then raises `NotSupportedError` (an AttributeError, so `hasattr` and
`getattr(module, name, default)` behave as for any missing name); any other name keeps the plain
AttributeError. The list (`unsupported.py`) is generated with the page by
tools/keras_catalogue.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from lstmkit.catalogue.unsupported import KERAS_VERSION, UNSUPPORTED

PAGE = "docs/keras_catalogue.md"
_PACKAGES: dict[str, str] = {}  # lstmkit module name -> Keras namespace (see module_getattr)


class NotSupportedError(AttributeError):
    """A Keras 3 name that lstmkit does not (yet) have."""


class NotSupportedImportError(ImportError):
    """`from lstmkit.layers import <a Keras name lstmkit lacks>`."""


def _message(namespace: str, name: str, module_name: str) -> str:
    keras_module = f"keras.{namespace}" if namespace else "keras"
    return (
        f"{keras_module}.{name} is not supported by lstmkit ({module_name}.{name} does not "
        f"exist). The catalogue of the Keras {KERAS_VERSION} names lstmkit supports is {PAGE} "
        "in the lstmkit repository."
    )


def module_getattr(namespace: str, module_name: str) -> Callable[[str], object]:
    """A module-level `__getattr__` for the lstmkit module standing for `keras.<namespace>`
    ("" for the top level)."""
    missing = UNSUPPORTED.get(namespace, frozenset())
    _PACKAGES[module_name] = namespace

    def __getattr__(name: str) -> object:
        if name in missing:
            raise NotSupportedError(_message(namespace, name, module_name))
        raise AttributeError(f"module '{module_name}' has no attribute '{name}'")

    return __getattr__


class _UnsupportedNameFinder:
    """`from lstmkit.layers import Conv3D` looks for a submodule `lstmkit.layers.Conv3D` once
    the attribute is missing, and Python would then say only "cannot import name": this finder,
    last on sys.meta_path, answers such a lookup of a Keras name with the catalogue's message."""

    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> None:
        package, _, name = fullname.rpartition(".")
        namespace = _PACKAGES.get(package)
        if namespace is not None and name in UNSUPPORTED.get(namespace, ()):
            raise NotSupportedImportError(_message(namespace, name, package), name=fullname)
        return None


if not any(isinstance(f, _UnsupportedNameFinder) for f in sys.meta_path):
    sys.meta_path.append(_UnsupportedNameFinder())

__all__ = [
    "KERAS_VERSION",
    "PAGE",
    "UNSUPPORTED",
    "NotSupportedError",
    "NotSupportedImportError",
    "module_getattr",
]
