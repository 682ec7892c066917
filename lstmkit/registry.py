"""Name lookup and Keras serialization shared by initializers, regularizers and constraints."""

from __future__ import annotations

import inspect
from typing import Any

from lstmkit.kernels.activations import function_config


def resolve(kind: str, base: type, by_name: dict[str, type], identifier: Any) -> Any:
    """None, an instance or subclass of `base`, a Keras name, a Keras-serialized dict
    (`{"class_name": ..., "config": ...}`) or a plain callable -> the object (or None)."""
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, (str, dict)):
        name = identifier if isinstance(identifier, str) else identifier.get("class_name")
        if name not in by_name:
            known = ", ".join(sorted(by_name))
            raise ValueError(f"Unknown {kind} {name!r}. Known {kind}s: {known}.")
        if isinstance(identifier, str):
            return by_name[name]()
        return by_name[name].from_config(dict(identifier.get("config") or {}))
    if inspect.isclass(identifier) and issubclass(identifier, base):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret {kind} identifier {identifier!r}.")


def serialize(module: str, base: type, obj: Any) -> dict[str, Any] | None:
    """Keras 3's serialized form: `{"module", "class_name", "config", "registered_name"}`;
    a plain function is serialized as Keras serializes functions."""
    if obj is None:
        return None
    if not isinstance(obj, base):
        return function_config(obj)
    return {
        "module": module,
        "class_name": type(obj).__name__,
        "config": obj.get_config(),
        "registered_name": None,
    }
