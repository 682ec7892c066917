"""One registry: `get`, `serialize` and `deserialize` for every concept, written once.

Each concept module (initializers, regularizers, constraints, losses, metrics, optimizers,
schedules; activations through its own functions) builds a `Registry` of its Keras names and
registers it; `lstmkit.registry.get("losses", "mse")` then works for any of them, and each
module's public `get`/`serialize`/`deserialize` are its registry's. An identifier is resolved as
Keras resolves it: None, an instance, a Keras name, a serialized dict
(`{"module", "class_name", "config", "registered_name"}`), a class, or a plain callable.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from lstmkit.kernels.activations import function_config

PASS = object()  # what a concept's `special` hook returns for identifiers it leaves alone


class Registry:
    """get / serialize / deserialize for one concept.

    `names` maps Keras names (class names, snake_case aliases) to classes or functions.
    Hooks for a concept's own rules:
    - `special(identifier, context)` runs first in `get` and `deserialize` (PASS to go on);
    - `from_name(value, name, context)` builds the object for a name (default: call a class,
      return a function);
    - `wrap(callable)` turns a plain function into the concept's object (default: itself);
    - `to_config(obj)` serializes what is not a plain instance (PASS to go on).
    """

    def __init__(
        self,
        kind: str,
        base: type,
        module: str,
        names: dict[str, Any],
        *,
        fold_case: bool = False,
        special: Callable[[Any, dict], Any] | None = None,
        from_name: Callable[[Any, str, dict], Any] | None = None,
        wrap: Callable[..., Any] | None = None,
        to_config: Callable[[Any], Any] | None = None,
    ):
        self.kind, self.base, self.module, self.names = kind, base, module, names
        self.item = kind[:-2] if kind.endswith("sses") else kind[:-1]  # "losses" -> "loss"
        self.fold_case = fold_case
        self._special, self._from_name, self._wrap, self._to_config = (
            special,
            from_name,
            wrap,
            to_config,
        )
        register(kind, self.get, self.serialize, self.deserialize)

    def lookup(self, name: Any) -> Any:
        """The class or function registered under `name`; a clear error naming the known ones."""
        table = self.names
        if self.fold_case and isinstance(name, str):
            table = {k.lower(): v for k, v in self.names.items()}
            name = name.lower()
        if not isinstance(name, str) or name not in table:
            known = ", ".join(sorted(self.names))
            raise ValueError(f"Unknown {self.item} {name!r}. Known {self.kind}: {known}.")
        return table[name]

    def get(self, identifier: Any, **context: Any) -> Any:
        if self._special is not None:
            found = self._special(identifier, context)
            if found is not PASS:
                return found
        if identifier is None or isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, dict):
            return self.deserialize(identifier)
        if isinstance(identifier, str):
            value = self.lookup(identifier)
            if self._from_name is not None:
                return self._from_name(value, identifier, context)
            return value() if inspect.isclass(value) else value
        if inspect.isclass(identifier) and issubclass(identifier, self.base):
            return identifier()
        if callable(identifier):
            return identifier if self._wrap is None else self._wrap(identifier)
        raise ValueError(f"Could not interpret {self.item} identifier {identifier!r}.")

    def serialize(self, obj: Any) -> Any:
        """Keras 3's serialized form; a name is returned unchanged, a function as Keras writes
        functions."""
        if obj is None or isinstance(obj, str):
            return obj
        if self._to_config is not None:
            found = self._to_config(obj)
            if found is not PASS:
                return found
        if isinstance(obj, self.base):
            return {
                "module": self.module,
                "class_name": type(obj).__name__,
                "config": obj.get_config(),
                "registered_name": None,
            }
        if callable(obj):
            return function_config(obj)
        raise ValueError(f"Could not serialize {self.item} {obj!r}.")

    def deserialize(self, config: dict | str) -> Any:
        """The inverse of `serialize`; reads Keras 3's own dicts too."""
        if isinstance(config, str):
            return self.get(config)
        if self._special is not None:
            found = self._special(config, {})
            if found is not PASS:
                return found
        class_name, inner = config.get("class_name"), config.get("config")
        if class_name == "function":
            fn = self.lookup(inner)
            return fn if self._wrap is None else self._wrap(fn)
        value = self.lookup(class_name)
        if not inspect.isclass(value):
            raise ValueError(f"{self.kind}: {class_name!r} is a function, not a class.")
        return value.from_config(dict(inner or {}))


_CONCEPTS: dict[str, tuple[Callable, Callable, Callable]] = {}


def register(kind: str, get_fn: Callable, serialize_fn: Callable, deserialize_fn: Callable) -> None:
    """Make `kind`'s get/serialize/deserialize reachable through this module."""
    _CONCEPTS[kind] = (get_fn, serialize_fn, deserialize_fn)


def _concept(kind: str) -> tuple[Callable, Callable, Callable]:
    if kind not in _CONCEPTS:
        raise ValueError(
            f"Unknown kind {kind!r}; registered kinds: {', '.join(sorted(_CONCEPTS))}."
        )
    return _CONCEPTS[kind]


def get(kind: str, identifier: Any, **context: Any) -> Any:
    """`lstmkit.<kind>.get(identifier)`, e.g. get("optimizers", "adam")."""
    return _concept(kind)[0](identifier, **context)


def serialize(kind: str, obj: Any) -> Any:
    return _concept(kind)[1](obj)


def deserialize(kind: str, config: Any) -> Any:
    return _concept(kind)[2](config)


def kinds() -> list[str]:
    return sorted(_CONCEPTS)
