"""Keras 3's `keras.ops.linalg` ops that models use (`norm`, `inv`, `det`, `solve`) on JAX."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import convert_to_tensor, float_tensor

Array = jax.Array


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:  # noqa: A002 (Keras's name)
    """Vector or matrix norm (Frobenius / 2-norm by default), in float."""
    axis = tuple(axis) if isinstance(axis, list) else axis
    return jnp.linalg.norm(float_tensor(x), ord=ord, axis=axis, keepdims=keepdims)


def inv(x: Any) -> Array:
    """Inverse of the square matrices in the last two axes."""
    return jnp.linalg.inv(convert_to_tensor(x))


def det(x: Any) -> Array:
    """Determinant of the square matrices in the last two axes."""
    return jnp.linalg.det(convert_to_tensor(x))


def solve(a: Any, b: Any) -> Array:
    """`x` with `a @ x = b`."""
    return jnp.linalg.solve(convert_to_tensor(a), convert_to_tensor(b))
