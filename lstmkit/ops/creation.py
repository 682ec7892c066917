"""Keras 3's array-creation ops (`zeros`, `ones`, `full`, `arange`, `eye`, ...) on JAX.

Part of `lstmkit.ops.numpy`. As in Keras, a missing `dtype` means float32 for the
constructors that take a shape (`zeros`, `ones`, `full`, `eye`, ...), and the input's
dtype for the `*_like` ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import FLOATX, convert_to_tensor, standardize_dtype

Array = jax.Array
Shape = int | Sequence[int]


def _dtype(dtype: Any) -> str:
    return standardize_dtype(dtype) or FLOATX


def zeros(shape: Shape, dtype: Any = None) -> Array:
    """An array of zeros (float32 unless `dtype` is given)."""
    return jnp.zeros(shape, dtype=_dtype(dtype))


def ones(shape: Shape, dtype: Any = None) -> Array:
    """An array of ones (float32 unless `dtype` is given)."""
    return jnp.ones(shape, dtype=_dtype(dtype))


def full(shape: Shape, fill_value: Any, dtype: Any = None) -> Array:
    """An array filled with `fill_value` (float32 unless `dtype` is given)."""
    return jnp.full(shape, convert_to_tensor(fill_value), dtype=_dtype(dtype))


def empty(shape: Shape, dtype: Any = None) -> Array:
    """An uninitialised array; on JAX, zeros."""
    return jnp.empty(shape, dtype=_dtype(dtype))


def zeros_like(x: Any, dtype: Any = None) -> Array:
    """Zeros with the shape (and dtype, unless given) of `x`."""
    return jnp.zeros_like(convert_to_tensor(x), dtype=standardize_dtype(dtype))


def ones_like(x: Any, dtype: Any = None) -> Array:
    """Ones with the shape (and dtype, unless given) of `x`."""
    return jnp.ones_like(convert_to_tensor(x), dtype=standardize_dtype(dtype))


def full_like(x: Any, fill_value: Any, dtype: Any = None) -> Array:
    """`fill_value` with the shape (and dtype, unless given) of `x`."""
    return jnp.full_like(
        convert_to_tensor(x), convert_to_tensor(fill_value), dtype=standardize_dtype(dtype)
    )


def empty_like(x: Any, dtype: Any = None) -> Array:
    """An uninitialised array like `x`; on JAX, zeros."""
    return jnp.empty_like(convert_to_tensor(x), dtype=standardize_dtype(dtype))


def array(x: Any, dtype: Any = None) -> Array:
    """A new array from `x`."""
    if hasattr(x, "__jax_array__"):
        x = x.__jax_array__()
    return jnp.array(x, dtype=standardize_dtype(dtype))


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Array:
    """Evenly spaced values in `[start, stop)`: int32 for ints, float32 if any is a float."""
    if dtype is None:
        bounds = [b for b in (start, stop, step) if b is not None]
        dtype = jnp.result_type(*(convert_to_tensor(b) for b in bounds))
    return jnp.arange(start, stop, step=step, dtype=standardize_dtype(dtype))


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
) -> Array | tuple[Array, Array]:
    """`num` evenly spaced values from `start` to `stop`."""
    return jnp.linspace(
        convert_to_tensor(start),
        convert_to_tensor(stop),
        num=num,
        endpoint=endpoint,
        retstep=retstep,
        dtype=standardize_dtype(dtype),
        axis=axis,
    )


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Array:  # noqa: N803 (Keras's names)
    """An N x M matrix with ones on the `k`-th diagonal."""
    return jnp.eye(N, M=M, k=k, dtype=_dtype(dtype))


def identity(n: int, dtype: Any = None) -> Array:
    """The n x n identity matrix."""
    return jnp.identity(n, dtype=_dtype(dtype))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Array:  # noqa: N803 (Keras's names)
    """An N x M matrix with ones at and below the `k`-th diagonal."""
    return jnp.tri(N, M=M, k=k, dtype=_dtype(dtype))
