"""Keras 3's normalization ops (`moments`, `normalize`, `batch_/layer_/rms_normalization`) on JAX.

Part of `keras.ops.nn`. As Keras, layer and RMS normalization compute in at least float32 and
cast back; `moments` of float16 is computed in float32 and clipped to float16's range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import EPSILON, FLOATX, _at_least_float32, convert_to_tensor

Array = jax.Array


def moments(
    x: Any, axes: Sequence[int], keepdims: bool = False, synchronized: bool = False
) -> tuple[Array, Array]:
    """Mean and variance of `x` over `axes` (float16 computed in float32 and clipped back)."""
    if synchronized:
        raise NotImplementedError("moments: `synchronized=True` is not supported with JAX.")
    x = convert_to_tensor(x)
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else axes
    original = x.dtype
    half = original in (jnp.float16, jnp.bfloat16)
    x = x.astype("float32") if half else x
    mean, variance = jnp.mean(x, axes, keepdims=keepdims), jnp.var(x, axis=axes, keepdims=keepdims)
    if half:  # float16's range is small: clip rather than overflow to inf
        limit = float(jnp.finfo(jnp.float16).max)
        mean = jnp.clip(mean, -limit, limit).astype(original)
        variance = jnp.clip(variance, -limit, limit).astype(original)
    return mean, variance


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Array:
    """`x / max(norm(x), epsilon)` along `axis` (L2 by `x * rsqrt(sum(x**2))`, as Keras)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: `order` must be an int >= 1, got order={order!r}.")
    x = convert_to_tensor(x)
    x = x[None] if x.ndim == 0 else x
    epsilon = EPSILON if epsilon is None else epsilon
    if order == 2:
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
        return x * jnp.minimum(inv_norm, 1.0 / epsilon)
    x = x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(FLOATX)
    return jnp.divide(
        x, jnp.maximum(jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True), epsilon)
    )


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    axis: int,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-3,
) -> Array:
    """`(x - mean) / sqrt(variance + epsilon) * scale + offset` along `axis`."""
    x, mean, variance = convert_to_tensor(x), convert_to_tensor(mean), convert_to_tensor(variance)
    shape = [1] * x.ndim
    shape[axis] = mean.shape[0]
    inv = jax.lax.rsqrt(variance.reshape(shape) + epsilon)
    if scale is not None:
        inv = inv * convert_to_tensor(scale).reshape(shape)
    shift = -mean.reshape(shape) * inv
    if offset is not None:
        shift = shift + convert_to_tensor(offset).reshape(shape)
    return jnp.add(x * inv, shift)


def _normalized_axes(
    x: Array, axis: int | Sequence[int], params: Sequence[Any]
) -> tuple[list[int], list[Any]]:
    """Sorted axes, and `params` reshaped to broadcast over them (as Keras's layer norm)."""
    axes = sorted([axis] if isinstance(axis, int) else list(axis))
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    out = []
    for p in params:
        if p is not None:
            p = convert_to_tensor(p, x.dtype)
            p = p.reshape(shape) if p.ndim != x.ndim and axes != [x.ndim - 1] else p
        out.append(p)
    return axes, out


def layer_normalization(
    x: Any,
    gamma: Any = None,
    beta: Any = None,
    axis: int = -1,
    epsilon: float | None = None,
    **kwargs: Any,
) -> Array:
    """Normalize `x` to zero mean, unit variance over `axis`, then `* gamma + beta`.

    `rms_scaling=True` (keyword) divides by the standard deviation only, as Keras.
    """
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected keyword arguments {sorted(kwargs)}.")
    x = convert_to_tensor(x)
    original = x.dtype
    x = x.astype(_at_least_float32(x))
    epsilon = EPSILON if epsilon is None else epsilon
    axes, (gamma, beta) = _normalized_axes(x, axis, (gamma, beta))
    if rms_scaling:
        out = x * jax.lax.rsqrt(jnp.var(x, axis=tuple(axes), keepdims=True) + epsilon)
        return (out if gamma is None else out * gamma).astype(original)
    mean, variance = moments(x, axes, keepdims=True)
    inv = jax.lax.rsqrt(variance + epsilon)
    inv = inv if gamma is None else inv * gamma
    shift = -mean * inv
    shift = shift if beta is None else shift + beta
    return (x * inv + shift).astype(original)


def rms_normalization(
    x: Any, scale: Any = None, axis: int = -1, epsilon: float | None = None
) -> Array:
    """`x / sqrt(mean(x**2) + epsilon) * scale` over `axis`."""
    x = convert_to_tensor(x)
    original = x.dtype
    x = x.astype(_at_least_float32(x))
    epsilon = EPSILON if epsilon is None else epsilon
    axis = tuple(sorted(axis)) if isinstance(axis, (list, tuple)) else axis
    x = x[None] if x.ndim == 0 else x
    out = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + epsilon)
    out = out if scale is None else out * convert_to_tensor(scale, x.dtype)
    return out.astype(original)
