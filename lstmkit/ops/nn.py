"""Keras 3's `keras.ops.nn`: activations, softmax, one_hot, normalizations, cross-entropies.

Activations delegate to `jax.nn`, as Keras's JAX backend does, so the numbers are the same
(for example `hard_sigmoid(x) = relu6(x + 3) / 6`, Keras 3's formula, not Keras 2's
`0.2 * x + 0.5`). These are the `keras.ops` defaults, which can differ from
`keras.activations` (`gelu` is approximate here).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import nn as jnn

from lstmkit.kernels import activations
from lstmkit.ops.attention import dot_product_attention
from lstmkit.ops.core import EPSILON, FLOATX, convert_to_tensor, standardize_dtype
from lstmkit.ops.normalization import (
    batch_normalization,
    layer_normalization,
    moments,
    normalize,
    rms_normalization,
)

Array = jax.Array


def relu(x: Any) -> Array:
    """`max(x, 0)`."""
    return activations.relu(convert_to_tensor(x))


def relu6(x: Any) -> Array:
    """`min(max(x, 0), 6)`."""
    return activations.relu6(convert_to_tensor(x))


def sigmoid(x: Any) -> Array:
    """`1 / (1 + exp(-x))`."""
    return activations.sigmoid(convert_to_tensor(x))


def hard_sigmoid(x: Any) -> Array:
    """Keras 3's hard sigmoid: `relu6(x + 3) / 6`."""
    return activations.hard_sigmoid(convert_to_tensor(x))


def sparse_sigmoid(x: Any) -> Array:
    """`clip((x + 1) / 2, 0, 1)`."""
    return activations.sparse_sigmoid(convert_to_tensor(x))


def log_sigmoid(x: Any) -> Array:
    """`log(sigmoid(x))`, computed stably."""
    return activations.log_sigmoid(convert_to_tensor(x))


def softplus(x: Any) -> Array:
    """`log(1 + exp(x))`, computed stably."""
    return activations.softplus(convert_to_tensor(x))


def softsign(x: Any) -> Array:
    """`x / (1 + |x|)`."""
    return activations.softsign(convert_to_tensor(x))


def silu(x: Any) -> Array:
    """`x * sigmoid(x)`."""
    return activations.silu(convert_to_tensor(x))


def swish(x: Any) -> Array:
    """Alias of `silu`."""
    return silu(x)


def hard_silu(x: Any) -> Array:
    """`x * hard_sigmoid(x)`."""
    return activations.hard_silu(convert_to_tensor(x))


def hard_swish(x: Any) -> Array:
    """Alias of `hard_silu`."""
    return hard_silu(x)


def hard_tanh(x: Any) -> Array:
    """`clip(x, -1, 1)`."""
    return activations.hard_tanh(convert_to_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.2) -> Array:
    """`x` if positive, else `negative_slope * x`."""
    return activations.leaky_relu(convert_to_tensor(x), negative_slope=negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Array:
    """`x` if positive, else `alpha * (exp(x) - 1)`."""
    return activations.elu(convert_to_tensor(x), alpha=alpha)


def selu(x: Any) -> Array:
    """Scaled ELU with the self-normalizing constants."""
    return activations.selu(convert_to_tensor(x))


def celu(x: Any, alpha: float = 1.0) -> Array:
    """`max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)`."""
    return activations.celu(convert_to_tensor(x), alpha=alpha)


def gelu(x: Any, approximate: bool = True) -> Array:
    """Gaussian error linear unit (tanh approximation by default, as `keras.ops.gelu`)."""
    return activations.gelu(convert_to_tensor(x), approximate)


def glu(x: Any, axis: int = -1) -> Array:
    """Gated linear unit: first half of `axis` times sigmoid of the second half."""
    return activations.glu(convert_to_tensor(x), axis=axis)


def squareplus(x: Any, b: float = 4) -> Array:
    """`(x + sqrt(x**2 + b)) / 2`."""
    return activations.squareplus(convert_to_tensor(x), b=b)


def sparse_plus(x: Any) -> Array:
    """0 below -1, `(x + 1)**2 / 4` in [-1, 1], `x` above 1."""
    return activations.sparse_plus(convert_to_tensor(x))


def tanh_shrink(x: Any) -> Array:
    """`x - tanh(x)`."""
    return activations.tanh_shrink(convert_to_tensor(x))


def soft_shrink(x: Any, threshold: float = 0.5) -> Array:
    """`x` moved towards 0 by `threshold`, 0 inside `[-threshold, threshold]`."""
    return activations.soft_shrink(convert_to_tensor(x), threshold)


def hard_shrink(x: Any, threshold: float = 0.5) -> Array:
    """`x` where `|x| > threshold`, else 0."""
    return activations.hard_shrink(convert_to_tensor(x), threshold)


def threshold(x: Any, threshold: float, default_value: float) -> Array:
    """`x` where `x > threshold`, else `default_value`."""
    return activations.threshold(convert_to_tensor(x), threshold, default_value)


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
    return activations.sparsemax(convert_to_tensor(x), axis)


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


__all__ = [
    "batch_normalization",
    "binary_crossentropy",
    "categorical_crossentropy",
    "celu",
    "dot_product_attention",
    "elu",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "layer_normalization",
    "leaky_relu",
    "log_sigmoid",
    "log_softmax",
    "moments",
    "normalize",
    "one_hot",
    "relu",
    "relu6",
    "rms_normalization",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_categorical_crossentropy",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh_shrink",
    "threshold",
]
