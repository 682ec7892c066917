"""Initializers as pure functions `(key, shape, dtype, **params) -> array`, Keras 3 formulas.

`key` is a JAX PRNG key (typed, from `jax.random.key`, or a raw uint32 pair). Deterministic
initializers ignore it. The draws themselves are made by NumPy, seeded from the key's bits: a
layer's weights are drawn once, and JAX would compile a fresh program for every new weight
shape (about a second each on CPU), while NumPy answers in microseconds. Parameters follow
Keras's names and defaults; bind them with `functools.partial` to get a plain
`(key, shape, dtype)` function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Shape = Sequence[int]
DType = jnp.dtype | str | type

# Std of a unit normal truncated to [-2, 2]; dividing by it restores the requested std.
TRUNCATION_STD = 0.87962566103423978


def seed_key(seed: int) -> jax.Array:
    """The key for an int seed: raw uint32 data `[seed, 0]` (Keras 3's layout)."""
    return jnp.array([seed & 0xFFFFFFFF, 0], dtype=jnp.uint32)


def _rng(key: jax.Array) -> np.random.Generator:
    """A NumPy generator determined by the key's bits."""
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())


def _normal(key: jax.Array, shape: tuple) -> np.ndarray:
    return _rng(key).standard_normal(shape)


def _truncated_unit_normal(key: jax.Array, shape: tuple) -> np.ndarray:
    """Standard normal samples redrawn until they fall inside [-2, 2]."""
    rng = _rng(key)
    x = rng.standard_normal(shape)
    outside = np.abs(x) > 2.0
    while outside.any():
        x[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(x) > 2.0
    return x


def _put(x: np.ndarray, dtype: DType) -> jax.Array:
    """A host array as a device array of `dtype`, cast by NumPy: `jnp.asarray(x, dtype)` or
    `jnp.zeros` would compile a small XLA program for every new shape (~10-40 ms each)."""
    x = np.asarray(x)
    if x.dtype == np.float64:  # through float32 first, as JAX's own conversion rounds
        x = x.astype(np.float32)
    host = x.astype(jnp.dtype(dtype), copy=False)
    return jnp.asarray(host, dtype=host.dtype)


def zeros(key: jax.Array | None, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """All zeros."""
    return _put(np.zeros(tuple(shape)), dtype)


def ones(key: jax.Array | None, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """All ones."""
    return _put(np.ones(tuple(shape)), dtype)


def constant(
    key: jax.Array | None, shape: Shape, dtype: DType = jnp.float32, value=0.0
) -> jax.Array:
    """`value` everywhere: a scalar, or an array broadcastable to exactly `shape`."""
    shape = tuple(shape)
    if isinstance(value, jax.Array):  # maybe traced: stay in jax
        value = jnp.asarray(value, dtype=dtype)
        if value.ndim and jnp.broadcast_shapes(value.shape, shape) != shape:
            raise ValueError(_constant_shape_error(value.shape, shape))
        return jnp.broadcast_to(value, shape)
    value = np.asarray(value, dtype=jnp.dtype(dtype))
    if value.ndim and np.broadcast_shapes(value.shape, shape) != shape:
        raise ValueError(_constant_shape_error(value.shape, shape))
    return _put(np.broadcast_to(value, shape), dtype)


def _constant_shape_error(value_shape: tuple, shape: tuple) -> str:
    return (
        f"Constant initializer: the value has shape {value_shape}, which does not fit the "
        f"weight shape {shape}. Pass a scalar or an array of shape {shape}."
    )


def identity(
    key: jax.Array | None, shape: Shape, dtype: DType = jnp.float32, gain: float = 1.0
) -> jax.Array:
    """`gain` times the (possibly rectangular) identity matrix; 2-D shapes only."""
    shape = tuple(shape)
    if len(shape) != 2:
        raise ValueError(
            f"Identity initializer only makes 2-D matrices, got shape {shape} of rank {len(shape)}."
        )
    return _put(gain * np.eye(*shape), dtype)


def random_normal(
    key: jax.Array,
    shape: Shape,
    dtype: DType = jnp.float32,
    mean: float = 0.0,
    stddev: float = 0.05,
) -> jax.Array:
    """Normal samples with the given mean and standard deviation."""
    return _put(_normal(key, tuple(shape)) * stddev + mean, dtype)


def random_uniform(
    key: jax.Array,
    shape: Shape,
    dtype: DType = jnp.float32,
    minval: float = -0.05,
    maxval: float = 0.05,
) -> jax.Array:
    """Uniform samples in `[minval, maxval)`."""
    return _put(_rng(key).uniform(minval, maxval, tuple(shape)), dtype)


def truncated_normal(
    key: jax.Array,
    shape: Shape,
    dtype: DType = jnp.float32,
    mean: float = 0.0,
    stddev: float = 0.05,
) -> jax.Array:
    """Normal samples redrawn outside two standard deviations of the mean."""
    unit = _truncated_unit_normal(key, tuple(shape))
    return _put(unit * stddev + mean, dtype)


def compute_fans(
    shape: Shape,
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> tuple[int, int]:
    """`(fan_in, fan_out)` as Keras 3 counts them.

    Rank 0: (1, 1). Rank 1: (n, n). Rank 2: (rows, cols). Higher ranks are conv kernels
    `(*receptive_field, in, out)`: both fans are multiplied by the receptive field size.
    Explicit `input_axes` and `output_axes` (both given) override this.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[a] for a in input_axes)
        fan_out = math.prod(shape[a] for a in output_axes)
    elif len(shape) == 0:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = math.prod(shape[:-2])
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    return int(fan_in), int(fan_out)


VS_MODES = ("fan_in", "fan_out", "fan_avg")
VS_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def variance_scaling(
    key: jax.Array,
    shape: Shape,
    dtype: DType = jnp.float32,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> jax.Array:
    """Samples with variance `scale / n`, n = fan_in, fan_out or their mean (by `mode`).

    `truncated_normal` draws within 2 std and rescales by 1/0.8796… so the *final* std is
    `sqrt(scale / n)`; `uniform` draws in `±sqrt(3 * scale / n)`. `"normal"` means
    `truncated_normal`, as in Keras.
    """
    distribution = distribution.lower()
    if distribution == "normal":
        distribution = "truncated_normal"
    if mode not in VS_MODES:
        raise ValueError(f"variance_scaling: unknown mode {mode!r}; use one of {VS_MODES}.")
    if distribution not in VS_DISTRIBUTIONS:
        raise ValueError(
            f"variance_scaling: unknown distribution {distribution!r}; "
            f"use one of {VS_DISTRIBUTIONS}."
        )
    fan_in, fan_out = compute_fans(shape, input_axes, output_axes)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    variance = scale / max(1.0, n)
    if distribution == "truncated_normal":
        stddev = math.sqrt(variance) / TRUNCATION_STD
        return truncated_normal(key, shape, dtype, mean=0.0, stddev=stddev)
    if distribution == "untruncated_normal":
        return random_normal(key, shape, dtype, mean=0.0, stddev=math.sqrt(variance))
    limit = math.sqrt(3.0 * variance)
    return random_uniform(key, shape, dtype, minval=-limit, maxval=limit)


def glorot_uniform(key: jax.Array, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """Uniform in `±sqrt(6 / (fan_in + fan_out))`."""
    return variance_scaling(key, shape, dtype, 1.0, "fan_avg", "uniform")


def glorot_normal(key: jax.Array, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """Truncated normal with std `sqrt(2 / (fan_in + fan_out))`."""
    return variance_scaling(key, shape, dtype, 1.0, "fan_avg", "truncated_normal")


def he_uniform(key: jax.Array, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """Uniform in `±sqrt(6 / fan_in)`."""
    return variance_scaling(key, shape, dtype, 2.0, "fan_in", "uniform")


def he_normal(key: jax.Array, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """Truncated normal with std `sqrt(2 / fan_in)`."""
    return variance_scaling(key, shape, dtype, 2.0, "fan_in", "truncated_normal")


def lecun_uniform(key: jax.Array, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """Uniform in `±sqrt(3 / fan_in)`."""
    return variance_scaling(key, shape, dtype, 1.0, "fan_in", "uniform")


def lecun_normal(key: jax.Array, shape: Shape, dtype: DType = jnp.float32) -> jax.Array:
    """Truncated normal with std `sqrt(1 / fan_in)`."""
    return variance_scaling(key, shape, dtype, 1.0, "fan_in", "truncated_normal")


def orthogonal(
    key: jax.Array, shape: Shape, dtype: DType = jnp.float32, gain: float = 1.0
) -> jax.Array:
    """`gain` times a random orthogonal matrix, reshaped to `shape` (rank >= 2).

    The matrix is `(prod(shape[:-1]), shape[-1])`: orthonormal columns when it is tall,
    orthonormal rows when it is wide. Built, as in Keras 3, from the QR factorisation of a
    standard normal matrix with Q's columns sign-corrected by `sign(diag(R))`.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(
            f"Orthogonal initializer needs a shape of rank >= 2, got shape {shape} "
            f"of rank {len(shape)}."
        )
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = _normal(key, (max(rows, cols), min(rows, cols)))  # tall
    q, r = np.linalg.qr(a)  # q: (max, min) orthonormal columns
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T  # (rows, cols) with orthonormal rows
    return _put(gain * q.reshape(shape), dtype)
