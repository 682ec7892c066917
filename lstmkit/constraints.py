"""Weight constraints with Keras 3 formulas: `c(w) -> projected w`, applied after each update."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from lstmkit import catalogue as _catalogue
from lstmkit import registry

# Keras's fuzz factor (`keras.backend.epsilon()`), added to norms before dividing.
EPSILON = 1e-7

Axis = int | Sequence[int]


def _norms(w: jax.Array, axis: Axis) -> jax.Array:
    """L2 norms along `axis`, kept broadcastable against `w`."""
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: the identity projection."""

    def __call__(self, w: jax.Array) -> jax.Array:
        return w

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescale slices along `axis` whose L2 norm exceeds `max_value`."""

    def __init__(self, max_value: float = 2, axis: Axis = 0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: jax.Array) -> jax.Array:
        w = jnp.asarray(w)
        norms = _norms(w, self.axis)
        desired = jnp.clip(norms, 0, self.max_value)
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clamp weights at 0 from below."""

    def __call__(self, w: jax.Array) -> jax.Array:
        return jnp.maximum(jnp.asarray(w), 0)


class UnitNorm(Constraint):
    """Divide slices along `axis` by their L2 norm (plus epsilon)."""

    def __init__(self, axis: Axis = 0):
        self.axis = axis

    def __call__(self, w: jax.Array) -> jax.Array:
        w = jnp.asarray(w)
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move slice norms toward `[min_value, max_value]`: `rate` 1 clips, below 1 blends."""

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0
    ):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: jax.Array) -> jax.Array:
        w = jnp.asarray(w)
        norms = _norms(w, self.axis)
        clipped = jnp.clip(norms, self.min_value, self.max_value)
        desired = self.rate * clipped + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Lower-case aliases, as Keras exports them.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_BY_NAME: dict[str, type[Constraint]] = {
    "Constraint": Constraint,
    "constraint": Constraint,
    "MaxNorm": MaxNorm,
    "max_norm": MaxNorm,
    "NonNeg": NonNeg,
    "non_neg": NonNeg,
    "UnitNorm": UnitNorm,
    "unit_norm": UnitNorm,
    "MinMaxNorm": MinMaxNorm,
    "min_max_norm": MinMaxNorm,
}


_REGISTRY = registry.Registry("constraints", Constraint, "keras.constraints", _BY_NAME)


def get(identifier: Any) -> Constraint | Any | None:
    """Resolve None, a Constraint (instance or class), a Keras name, a Keras-serialized
    dict, or a plain callable `w -> w`."""
    return _REGISTRY.get(identifier)


def serialize(constraint: Constraint | Any | None) -> dict[str, Any] | None:
    """Keras 3's serialized form: `{"module", "class_name", "config", "registered_name"}`."""
    return _REGISTRY.serialize(constraint)


def deserialize(config: dict[str, Any]) -> Constraint:
    """Inverse of `serialize` for the built-in constraints."""
    return _REGISTRY.deserialize(config)


# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("constraints", __name__)
