"""Weight penalties with Keras 3 formulas: `reg(w) -> scalar`, added to the training loss."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import catalogue as _catalogue
from lstmkit import registry


def _validate(value: Any, name: str) -> float:
    """A finite, non-negative float factor (Keras rejects anything else)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isinf(value)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float, "
                         f"got {name}={value!r}.")  # fmt: skip
    return float(value)


class Regularizer:
    """Base class: a callable `w -> scalar penalty`, configurable like Keras."""

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.asarray(0.0)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1(Regularizer):
    """`l1 * sum(|x|)`."""

    def __init__(self, l1: float = 0.01):
        l1 = _validate(0.01 if l1 is None else l1, "l1")
        # Keras 3 stores l1 as a float32 tensor, so its config reads back the float32 value.
        self.l1 = float(np.float32(l1))

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)`."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _validate(0.01 if l2 is None else l2, "l2")

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`; both factors default to 0 (Keras 3)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _validate(0.0 if l1 is None else l1, "l1")
        self.l2 = _validate(0.0 if l2 is None else l2, "l2")

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        penalty = jnp.asarray(0.0, x.dtype)
        if self.l1 != 0.0:
            penalty += jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))
        if self.l2 != 0.0:
            penalty += jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


# Lower-case aliases, as Keras exports them.
l1, l2, l1_l2 = L1, L2, L1L2

_BY_NAME: dict[str, type[Regularizer]] = {
    "Regularizer": Regularizer,
    "regularizer": Regularizer,
    "L1": L1,
    "l1": L1,
    "L2": L2,
    "l2": L2,
    "L1L2": L1L2,
    "l1l2": L1L2,  # Keras 3's own snake_case key
    "l1_l2": L1L2,  # the exported alias name (Keras 3's `get` does not accept it)
}


_REGISTRY = registry.Registry("regularizers", Regularizer, "keras.regularizers", _BY_NAME)


def get(identifier: Any) -> Regularizer | Any | None:
    """Resolve None, a Regularizer (instance or class), a Keras name, a Keras-serialized
    dict, or a plain callable `w -> scalar`."""
    return _REGISTRY.get(identifier)


def serialize(regularizer: Regularizer | Any | None) -> dict[str, Any] | None:
    """Keras 3's serialized form: `{"module", "class_name", "config", "registered_name"}`."""
    return _REGISTRY.serialize(regularizer)


def deserialize(config: dict[str, Any]) -> Regularizer:
    """Inverse of `serialize` for the built-in regularizers."""
    return _REGISTRY.deserialize(config)


# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("regularizers", __name__)
