"""Keras 3's reductions and products (`sum`, `mean`, `argmax`, `matmul`, `einsum`, ...) on JAX.

Part of `lstmkit.ops.numpy`. The dtype rules follow Keras: `mean` of integers is float32 and of
float16 is computed in float32 and cast back; `var` likewise; `count_nonzero` is int32.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import _at_least_float32, convert_to_tensor, float_tensor

Array = jax.Array
Axis = int | Sequence[int] | None


def _axis(axis: Axis) -> int | tuple[int, ...] | None:
    """JAX wants a hashable axis; Keras accepts lists too."""
    return tuple(axis) if isinstance(axis, list) else axis


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:  # noqa: A001
    """Sum over `axis` (all axes if None)."""
    return jnp.sum(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """Arithmetic mean; integers and booleans give float32, float16 is averaged in float32."""
    x = convert_to_tensor(x)
    compute = _at_least_float32(x)
    result = x.dtype if jnp.issubdtype(x.dtype, jnp.inexact) else compute
    return jnp.mean(x, axis=_axis(axis), keepdims=keepdims, dtype=compute).astype(result)


def var(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """Variance (population, `ddof=0`), in float."""
    x = convert_to_tensor(x)
    result = float_tensor(x).dtype
    return jnp.var(x, axis=_axis(axis), keepdims=keepdims, dtype=_at_least_float32(x)).astype(
        result
    )


def std(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """Standard deviation (population, `ddof=0`)."""
    return jnp.std(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> Array:  # noqa: A001
    """Maximum over `axis`, starting from `initial` if given."""
    return jnp.max(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, initial=initial)


def min(x: Any, axis: Axis = None, keepdims: bool = False, initial: Any = None) -> Array:  # noqa: A001
    """Minimum over `axis`, starting from `initial` if given."""
    return jnp.min(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, initial=initial)


def amax(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """Maximum over `axis`."""
    return jnp.amax(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def amin(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """Minimum over `axis`."""
    return jnp.amin(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def ptp(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """`max - min` over `axis`."""
    return jnp.ptp(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def prod(x: Any, axis: Axis = None, keepdims: bool = False, dtype: Any = None) -> Array:
    """Product over `axis`."""
    return jnp.prod(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, dtype=dtype)


def any(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:  # noqa: A001
    """Whether any element over `axis` is true."""
    return jnp.any(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def all(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:  # noqa: A001
    """Whether every element over `axis` is true."""
    return jnp.all(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims)


def count_nonzero(x: Any, axis: Axis = None) -> Array:
    """How many elements over `axis` are non-zero, as int32."""
    return jnp.count_nonzero(convert_to_tensor(x), axis=_axis(axis)).astype("int32")


def median(x: Any, axis: Axis = None, keepdims: bool = False) -> Array:
    """Median over `axis`."""
    x = convert_to_tensor(x)
    result = jnp.median(x, axis=_axis(axis), keepdims=keepdims)
    return result.reshape((1,) * x.ndim) if keepdims and axis is None else result


def quantile(
    x: Any, q: Any, axis: Axis = None, method: str = "linear", keepdims: bool = False
) -> Array:
    """The `q`-th quantiles (q in [0, 1]) over `axis`."""
    x, q = convert_to_tensor(x), convert_to_tensor(q)
    result = jnp.quantile(x, q, axis=_axis(axis), method=method, keepdims=keepdims)
    if keepdims and axis is None:  # one kept axis per input axis, after q's own
        result = result.reshape(q.shape + (1,) * x.ndim)
    return result


def percentile(
    x: Any, q: Any, axis: Axis = None, method: str = "linear", keepdims: bool = False
) -> Array:
    """The `q`-th percentiles (q in [0, 100]) over `axis`."""
    return quantile(
        x, jnp.divide(convert_to_tensor(q), 100), axis=axis, method=method, keepdims=keepdims
    )


def average(x: Any, axis: Axis = None, weights: Any = None) -> Array:
    """Weighted mean over `axis` (plain mean without `weights`), in float."""
    x = convert_to_tensor(x)
    kind = float_tensor(x).dtype
    if weights is not None:
        weights = convert_to_tensor(weights)
        kind = jnp.promote_types(kind, float_tensor(weights).dtype)
        weights = weights.astype(kind)
    return jnp.average(x.astype(kind), axis=_axis(axis), weights=weights)


def _arg_extreme(find: Any, x: Any, axis: int | None, keepdims: bool) -> Array:
    x = convert_to_tensor(x)
    on_cpu = isinstance(x, jax.core.Tracer) and jax.default_backend() == "cpu"
    on_cpu = on_cpu or builtins.all(
        d.platform == "cpu" for d in getattr(x, "devices", lambda: [])()
    )
    if jnp.issubdtype(x.dtype, jnp.floating) and x.ndim > 0 and on_cpu:
        # As Keras: XLA on CPU flushes denormals, so -0.0 ties with 0.0 differently than on
        # other devices; Keras ranks -0.0 just below 0.0 on CPU and so do we.
        x = x.astype(jnp.promote_types(x.dtype, "float32"))
        x = jnp.where((x == 0.0) & jnp.signbit(x), -jnp.finfo(x.dtype).tiny, x)
    return find(x, axis=axis, keepdims=keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the maximum over `axis` (the first on ties; of the flattened `x` if None)."""
    return _arg_extreme(jnp.argmax, x, axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the minimum over `axis` (the first on ties; of the flattened `x` if None)."""
    return _arg_extreme(jnp.argmin, x, axis, keepdims)


def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> Array:
    """Cumulative sum along `axis` (of the flattened `x` if None)."""
    return jnp.cumsum(convert_to_tensor(x), axis=axis, dtype=dtype)


def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> Array:
    """Cumulative product along `axis` (of the flattened `x` if None)."""
    return jnp.cumprod(convert_to_tensor(x), axis=axis, dtype=dtype)


# --- products ------------------------------------------------------------------------------


def _int8_accumulator(*xs: Array) -> str | None:
    """Keras accumulates int8 x int8 products in int32 (hardware-accelerated on some chips)."""
    return "int32" if builtins.all(x.dtype == jnp.int8 for x in xs) else None


def matmul(x1: Any, x2: Any) -> Array:
    """Matrix product `x1 @ x2`, batched over leading axes."""
    x1, x2 = convert_to_tensor(x1), convert_to_tensor(x2)
    return jnp.matmul(x1, x2, preferred_element_type=_int8_accumulator(x1, x2))


def einsum(subscripts: str, *operands: Any, **kwargs: Any) -> Array:
    """Einstein summation, e.g. `einsum("btd,bsd->bts", q, k)`."""
    operands = [convert_to_tensor(x) for x in operands]
    kwargs["preferred_element_type"] = _int8_accumulator(*operands)
    return jnp.einsum(subscripts, *operands, **kwargs)


def dot(x1: Any, x2: Any) -> Array:
    """numpy's `dot`: vector inner product, matrix product, or last/second-last axes."""
    return jnp.dot(convert_to_tensor(x1), convert_to_tensor(x2))


def tensordot(x1: Any, x2: Any, axes: int | Sequence[Any] = 2) -> Array:
    """Sum of products over `axes` (last `axes` of x1 with first of x2, or explicit pairs)."""
    return jnp.tensordot(convert_to_tensor(x1), convert_to_tensor(x2), axes=axes)


def outer(x1: Any, x2: Any) -> Array:
    """Outer product of the flattened inputs."""
    return jnp.outer(convert_to_tensor(x1), convert_to_tensor(x2))


def inner(x1: Any, x2: Any) -> Array:
    """Inner product over the last axes."""
    return jnp.inner(convert_to_tensor(x1), convert_to_tensor(x2))


def vdot(x1: Any, x2: Any) -> Array:
    """Dot product of the flattened inputs (conjugating the first)."""
    return jnp.vdot(convert_to_tensor(x1), convert_to_tensor(x2))


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """Sum along a diagonal."""
    return jnp.trace(convert_to_tensor(x), offset=offset, axis1=axis1, axis2=axis2)
