"""Keras 3's `keras.ops.nn`: activations, softmax, one_hot, normalizations, cross-entropies.

Activations delegate to `jax.nn`, as Keras's JAX backend does, so the numbers are the same
(for example `hard_sigmoid(x) = relu6(x + 3) / 6`, Keras 3's formula, not Keras 2's
`0.2 * x + 0.5`). These are the `keras.ops` defaults, which can differ from
`keras.activations` (`gelu` is approximate here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import nn as jnn

from lstmkit.ops.core import EPSILON, FLOATX, convert_to_tensor, standardize_dtype

Array = jax.Array


def relu(x: Any) -> Array:
    """`max(x, 0)`."""
    return jnn.relu(convert_to_tensor(x))


def relu6(x: Any) -> Array:
    """`min(max(x, 0), 6)`."""
    return jnn.relu6(convert_to_tensor(x))


def sigmoid(x: Any) -> Array:
    """`1 / (1 + exp(-x))`."""
    return jnn.sigmoid(convert_to_tensor(x))


def hard_sigmoid(x: Any) -> Array:
    """Keras 3's hard sigmoid: `relu6(x + 3) / 6`."""
    return jnn.hard_sigmoid(convert_to_tensor(x))


def sparse_sigmoid(x: Any) -> Array:
    """`clip((x + 1) / 2, 0, 1)`."""
    return jnn.sparse_sigmoid(convert_to_tensor(x))


def log_sigmoid(x: Any) -> Array:
    """`log(sigmoid(x))`, computed stably."""
    return jnn.log_sigmoid(convert_to_tensor(x))


def softplus(x: Any) -> Array:
    """`log(1 + exp(x))`, computed stably."""
    return jnn.softplus(convert_to_tensor(x))


def softsign(x: Any) -> Array:
    """`x / (1 + |x|)`."""
    return jnn.soft_sign(convert_to_tensor(x))


def silu(x: Any) -> Array:
    """`x * sigmoid(x)`."""
    return jnn.silu(convert_to_tensor(x))


def swish(x: Any) -> Array:
    """Alias of `silu`."""
    return silu(x)


def hard_silu(x: Any) -> Array:
    """`x * hard_sigmoid(x)`."""
    return jnn.hard_silu(convert_to_tensor(x))


def hard_swish(x: Any) -> Array:
    """Alias of `hard_silu`."""
    return hard_silu(x)


def hard_tanh(x: Any) -> Array:
    """`clip(x, -1, 1)`."""
    return jnn.hard_tanh(convert_to_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Array:
    """`x` if positive, else `negative_slope * x`."""
    return jnn.leaky_relu(convert_to_tensor(x), negative_slope=negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Array:
    """`x` if positive, else `alpha * (exp(x) - 1)`."""
    return jnn.elu(convert_to_tensor(x), alpha=alpha)


def selu(x: Any) -> Array:
    """Scaled ELU with the self-normalizing constants."""
    return jnn.selu(convert_to_tensor(x))


def celu(x: Any, alpha: float = 1.0) -> Array:
    """`max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)`."""
    return jnn.celu(convert_to_tensor(x), alpha=alpha)


def gelu(x: Any, approximate: bool = True) -> Array:
    """Gaussian error linear unit (tanh approximation by default, as `keras.ops.gelu`)."""
    return jnn.gelu(convert_to_tensor(x), approximate)


def glu(x: Any, axis: int = -1) -> Array:
    """Gated linear unit: first half of `axis` times sigmoid of the second half."""
    return jnn.glu(convert_to_tensor(x), axis=axis)


def squareplus(x: Any, b: float = 4) -> Array:
    """`(x + sqrt(x**2 + b)) / 2`."""
    return jnn.squareplus(convert_to_tensor(x), b=b)


def sparse_plus(x: Any) -> Array:
    """0 below -1, `(x + 1)**2 / 4` in [-1, 1], `x` above 1."""
    return jnn.sparse_plus(convert_to_tensor(x))


def tanh_shrink(x: Any) -> Array:
    """`x - tanh(x)`."""
    x = convert_to_tensor(x)
    return x - jnp.tanh(x)


def soft_shrink(x: Any, threshold: float = 0.5) -> Array:
    """`x` moved towards 0 by `threshold`, 0 inside `[-threshold, threshold]`."""
    x = convert_to_tensor(x)
    return jnp.where(x > threshold, x - threshold, jnp.where(x < -threshold, x + threshold, 0.0))


def hard_shrink(x: Any, threshold: float = 0.5) -> Array:
    """`x` where `|x| > threshold`, else 0."""
    x = convert_to_tensor(x)
    return jnp.where(jnp.abs(x) > threshold, x, 0.0)


def threshold(x: Any, threshold: float, default_value: float) -> Array:
    """`x` where `x > threshold`, else `default_value`."""
    x = convert_to_tensor(x)
    return jnp.where(x > threshold, x, default_value)


def _over_axes(fn: Any, x: Array, axis: int | tuple[int, ...]) -> Array:
    """Apply a last-axis function jointly over several axes (Keras's tuple `axis`)."""
    if not isinstance(axis, tuple):
        return fn(x, axis=axis)
    axis = tuple(a % x.ndim for a in axis)
    keep = [a for a in range(x.ndim) if a not in axis]
    moved = jnp.transpose(x, (*keep, *axis))  # (kept..., reduced...)
    flat = moved.reshape(*(x.shape[a] for a in keep), -1)  # (kept..., prod(reduced))
    out = fn(flat, axis=-1).reshape(moved.shape)
    return jnp.transpose(out, jnp.argsort(jnp.asarray((*keep, *axis))).tolist())


def softmax(x: Any, axis: int | tuple[int, ...] = -1) -> Array:
    """`exp(x) / sum(exp(x))` over `axis` (an int, or a tuple normalized jointly)."""
    return _over_axes(jnn.softmax, convert_to_tensor(x), axis)


def log_softmax(x: Any, axis: int | tuple[int, ...] = -1) -> Array:
    """`log(softmax(x))` over `axis`, computed stably."""
    return _over_axes(jnn.log_softmax, convert_to_tensor(x), axis)


def sparsemax(x: Any, axis: int = -1) -> Array:
    """Euclidean projection of `x` onto the probability simplex along `axis`."""
    logits = convert_to_tensor(x)
    ranked = -jnp.sort(-logits, axis=axis)  # descending along axis
    cumulative = jnp.cumsum(ranked, axis=axis)
    shape = [1] * logits.ndim
    shape[axis] = -1
    k = jnp.arange(1, logits.shape[axis] + 1).reshape(shape)  # 1..n along axis
    support = ranked - (cumulative - 1) / k > 0
    count = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.sum(jnp.where(support, cumulative, 0.0), axis=axis, keepdims=True) - 1) / count
    return jnp.maximum(logits - tau, 0.0)


def one_hot(
    x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False
) -> Array:
    """Integer ids as one-hot vectors of length `num_classes` along `axis` (float32 by default)."""
    if sparse:
        raise ValueError(
            "one_hot: `sparse=True` is not supported by lstmkit.ops (JAX arrays are dense)."
        )
    return jnn.one_hot(
        convert_to_tensor(x), num_classes, axis=axis, dtype=standardize_dtype(dtype) or FLOATX
    )


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
    x = x.astype(
        jnp.promote_types(original, "float32")
        if jnp.issubdtype(original, jnp.inexact)
        else "float32"
    )
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
    x = x.astype(
        jnp.promote_types(original, "float32")
        if jnp.issubdtype(original, jnp.inexact)
        else "float32"
    )
    epsilon = EPSILON if epsilon is None else epsilon
    axis = tuple(sorted(axis)) if isinstance(axis, (list, tuple)) else axis
    x = x[None] if x.ndim == 0 else x
    out = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + epsilon)
    out = out if scale is None else out * convert_to_tensor(scale, x.dtype)
    return out.astype(original)


# --- cross-entropies (Keras's probability clipping to [epsilon, 1 - epsilon]) --------------


def _log_probabilities(output: Array, from_logits: bool, axis: int) -> Array:
    if from_logits:
        return jnn.log_softmax(output, axis=axis)
    output = output / jnp.sum(output, axis, keepdims=True)  # renormalize, as Keras
    return jnp.log(jnp.clip(output, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Array:
    """`-sum(target * log(p))` over `axis`, for one-hot (or soft) `target`."""
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    if target.shape != output.shape:
        raise ValueError(
            f"categorical_crossentropy: `target` and `output` must have the same shape, "
            f"got target.shape={target.shape}, output.shape={output.shape}."
        )
    if target.ndim < 1:
        raise ValueError(
            f"categorical_crossentropy: expected inputs of rank >= 1, got shape {target.shape}."
        )
    return -jnp.sum(target * _log_probabilities(output, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(
    target: Any, output: Any, from_logits: bool = False, axis: int = -1
) -> Array:
    """`-log(p[target])` for integer class ids `target` (shape of `output` without `axis`)."""
    target, output = convert_to_tensor(target, "int32"), convert_to_tensor(output)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, axis=-1)
    if output.ndim < 1:
        raise ValueError(
            "sparse_categorical_crossentropy: `output` must have rank >= 1, "
            f"got shape {output.shape}."
        )
    if target.shape != output.shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy: `target` must have the shape of `output` "
            "without its last axis, "
            f"got target.shape={target.shape}, output.shape={output.shape}."
        )
    log_prob = _log_probabilities(output, from_logits, axis)
    return -jnp.sum(jnn.one_hot(target, output.shape[axis], axis=axis) * log_prob, axis=axis)


def binary_crossentropy(target: Any, output: Any, from_logits: bool = False) -> Array:
    """Elementwise `-(t * log(p) + (1 - t) * log(1 - p))`."""
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    if target.shape != output.shape:
        raise ValueError(
            f"binary_crossentropy: `target` and `output` must have the same shape, "
            f"got target.shape={target.shape}, output.shape={output.shape}."
        )
    if from_logits:
        return -1.0 * target * jnn.log_sigmoid(output) - (1.0 - target) * jnn.log_sigmoid(-output)
    output = jnp.clip(output, EPSILON, 1.0 - EPSILON)
    return -(target * jnp.log(output) + (1.0 - target) * jnp.log(1.0 - output))
