"""Custom objects by name, as `keras.saving`'s registration API.

`@register_keras_serializable(package="my_pkg")` files a class (or function) under
`"my_pkg>ClassName"`; files written afterwards carry that name as `registered_name`, and loading
finds the class again by it. `custom_object_scope({...})` and `custom_objects=` lend objects for
one load. These are the only ways a custom class gets into a loaded model: nothing is imported
or evaluated from a file.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_REGISTERED: dict[str, Any] = {}  # "package>name" -> object
_NAMES: dict[Any, str] = {}  # object -> "package>name"
_SCOPES: list[dict[str, Any]] = []


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: register a class or function under `"package>name"` (name: its own)."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: `package` must be a string without '>', "
                         f"got {package!r}.")  # fmt: skip

    def decorator(obj: Any) -> Any:
        key = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"register_keras_serializable: cannot register class {obj.__name__}, which has "
                "no get_config() method."
            )
        _REGISTERED[key] = obj
        _NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """`"package>name"` for a registered object, else its own name (as Keras)."""
    return _NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def is_registered(obj: Any) -> bool:
    return obj in _NAMES


def get_registered_object(name: str, custom_objects: dict | None = None,
                          module_objects: dict | None = None) -> Any:  # fmt: skip
    """The object filed under `name`: in custom_objects, an active custom_object_scope, the
    registry, or module_objects, in that order; None if none has it."""
    for table in (custom_objects or {}, *reversed(_SCOPES), _REGISTERED, module_objects or {}):
        if name in table:
            return table[name]
    return None


def get_custom_objects() -> dict[str, Any]:
    """The global registry (a live dict, as Keras's)."""
    return _REGISTERED


@contextmanager
def custom_object_scope(*objects: dict[str, Any]) -> Iterator[None]:
    """`with custom_object_scope({"Attention": Attention}): load_model(...)`."""
    merged: dict[str, Any] = {}
    for table in objects:
        if not isinstance(table, dict):
            raise TypeError(f"custom_object_scope takes dicts of name -> object, got {table!r}.")
        merged.update(table)
    _SCOPES.append(merged)
    try:
        yield
    finally:
        _SCOPES.remove(merged)


CustomObjectScope = custom_object_scope
