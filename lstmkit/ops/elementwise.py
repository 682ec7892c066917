"""Keras 3's elementwise numpy ops (arithmetic, unary math, comparisons, logic) on JAX.

Part of `lstmkit.ops.numpy`. Inputs are converted with `convert_to_tensor`, so Python
scalars stay weakly typed (as in Keras: `add(int_array, 1.5)` is float32). Where Keras casts
integer inputs to float before the math (`floor`, `sin`, `exp`, ...), so do we.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import convert_to_tensor, float_tensor

Array = jax.Array


def _pair(x1: Any, x2: Any) -> tuple[Array, Array]:
    return convert_to_tensor(x1), convert_to_tensor(x2)


def _float_pair(x1: Any, x2: Any) -> tuple[Array, Array]:
    """Both cast to their common type, or float32 if that is not a float (as Keras)."""
    x1, x2 = _pair(x1, x2)
    kind = jnp.promote_types(x1.dtype, x2.dtype)  # Keras ignores weak types here: f16 + 1.5 is f32
    kind = kind if jnp.issubdtype(kind, jnp.inexact) else jnp.dtype("float32")
    return x1.astype(kind), x2.astype(kind)


# --- arithmetic ---------------------------------------------------------------------------


def add(x1: Any, x2: Any) -> Array:
    """`x1 + x2`, broadcast."""
    return jnp.add(*_pair(x1, x2))


def subtract(x1: Any, x2: Any) -> Array:
    """`x1 - x2`, broadcast."""
    return jnp.subtract(*_pair(x1, x2))


def multiply(x1: Any, x2: Any) -> Array:
    """`x1 * x2`, broadcast."""
    return jnp.multiply(*_pair(x1, x2))


def divide(x1: Any, x2: Any) -> Array:
    """`x1 / x2` (true division: integers give floats)."""
    return jnp.divide(*_pair(x1, x2))


def true_divide(x1: Any, x2: Any) -> Array:
    """Alias of `divide`."""
    return divide(x1, x2)


def divide_no_nan(x1: Any, x2: Any) -> Array:
    """`x1 / x2`, with 0 where `x2 == 0`."""
    x1, x2 = _pair(x1, x2)
    safe = jnp.where(x2 == 0, 1, x2)
    return jnp.where(x2 == 0, 0, jnp.divide(x1, safe))


def floor_divide(x1: Any, x2: Any) -> Array:
    """`x1 // x2`."""
    return jnp.floor_divide(*_pair(x1, x2))


def mod(x1: Any, x2: Any) -> Array:
    """`x1 % x2` (sign of the divisor, as numpy)."""
    return jnp.mod(*_pair(x1, x2))


def power(x1: Any, x2: Any) -> Array:
    """`x1 ** x2`."""
    return jnp.power(*_pair(x1, x2))


def maximum(x1: Any, x2: Any) -> Array:
    """Elementwise maximum."""
    return jnp.maximum(*_pair(x1, x2))


def minimum(x1: Any, x2: Any) -> Array:
    """Elementwise minimum."""
    return jnp.minimum(*_pair(x1, x2))


def logaddexp(x1: Any, x2: Any) -> Array:
    """`log(exp(x1) + exp(x2))`, computed stably, in float."""
    x1, x2 = _float_pair(x1, x2)
    return jnp.logaddexp(x1, x2)


def arctan2(x1: Any, x2: Any) -> Array:
    """Angle of the point (x2, x1), in float."""
    x1, x2 = _float_pair(x1, x2)
    return jnp.arctan2(x1, x2)


def negative(x: Any) -> Array:
    """`-x`."""
    return jnp.negative(convert_to_tensor(x))


def absolute(x: Any) -> Array:
    """`|x|`."""
    return jnp.absolute(convert_to_tensor(x))


def abs(x: Any) -> Array:  # noqa: A001
    """`|x|` (alias of `absolute`)."""
    return absolute(x)


def square(x: Any) -> Array:
    """`x * x`."""
    return jnp.square(convert_to_tensor(x))


def sign(x: Any) -> Array:
    """-1, 0 or 1 by the sign of `x`."""
    return jnp.sign(convert_to_tensor(x))


def reciprocal(x: Any) -> Array:
    """`1 / x`."""
    return jnp.reciprocal(convert_to_tensor(x))


def clip(x: Any, x_min: Any, x_max: Any) -> Array:
    """`x` limited to `[x_min, x_max]` (booleans are clipped as int32, as Keras)."""
    x = convert_to_tensor(x)
    if x.dtype == jnp.bool_:
        x = x.astype("int32")
    return jnp.clip(x, x_min, x_max)


def round(x: Any, decimals: int = 0) -> Array:  # noqa: A001
    """`x` rounded half to even at `decimals` (negative `decimals` on integers too)."""
    x = convert_to_tensor(x)
    if jnp.issubdtype(x.dtype, jnp.integer) and decimals < 0:
        factor = jnp.asarray(10.0**decimals, "float32")
        return jnp.divide(jnp.round(jnp.multiply(x.astype("float32"), factor)), factor).astype(
            x.dtype
        )
    return jnp.round(x, decimals=decimals)


def trunc(x: Any) -> Array:
    """`x` rounded towards zero (integers unchanged)."""
    x = convert_to_tensor(x)
    return x if not jnp.issubdtype(x.dtype, jnp.inexact) else jnp.trunc(x)


def nan_to_num(
    x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Array:
    """`x` with NaN and infinities replaced by finite numbers."""
    return jnp.nan_to_num(convert_to_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


# --- unary math: integers and booleans are cast to float32 first, as Keras does ------------


def sqrt(x: Any) -> Array:
    """Square root."""
    return jnp.sqrt(float_tensor(x))


def exp(x: Any) -> Array:
    """`e ** x`."""
    return jnp.exp(float_tensor(x))


def expm1(x: Any) -> Array:
    """`exp(x) - 1`, accurate near 0."""
    return jnp.expm1(float_tensor(x))


def log(x: Any) -> Array:
    """Natural logarithm."""
    return jnp.log(float_tensor(x))


def log1p(x: Any) -> Array:
    """`log(1 + x)`, accurate near 0."""
    return jnp.log1p(float_tensor(x))


def log2(x: Any) -> Array:
    """Base-2 logarithm."""
    return jnp.log2(float_tensor(x))


def log10(x: Any) -> Array:
    """Base-10 logarithm."""
    return jnp.log10(float_tensor(x))


def floor(x: Any) -> Array:
    """Largest integer `<= x`, as a float."""
    return jnp.floor(float_tensor(x))


def ceil(x: Any) -> Array:
    """Smallest integer `>= x`, as a float."""
    return jnp.ceil(float_tensor(x))


def cbrt(x: Any) -> Array:
    """Cube root."""
    return jnp.cbrt(float_tensor(x))


def sin(x: Any) -> Array:
    """Sine."""
    return jnp.sin(float_tensor(x))


def cos(x: Any) -> Array:
    """Cosine."""
    return jnp.cos(float_tensor(x))


def tan(x: Any) -> Array:
    """Tangent."""
    return jnp.tan(float_tensor(x))


def sinh(x: Any) -> Array:
    """Hyperbolic sine."""
    return jnp.sinh(float_tensor(x))


def cosh(x: Any) -> Array:
    """Hyperbolic cosine."""
    return jnp.cosh(float_tensor(x))


def tanh(x: Any) -> Array:
    """Hyperbolic tangent (Keras exposes it as `ops.tanh` and `ops.numpy.tanh`)."""
    return jnp.tanh(float_tensor(x))


def arcsin(x: Any) -> Array:
    """Inverse sine."""
    return jnp.arcsin(float_tensor(x))


def arccos(x: Any) -> Array:
    """Inverse cosine."""
    return jnp.arccos(float_tensor(x))


def arctan(x: Any) -> Array:
    """Inverse tangent."""
    return jnp.arctan(float_tensor(x))


# --- comparison and logic ------------------------------------------------------------------


def equal(x1: Any, x2: Any) -> Array:
    """`x1 == x2`."""
    return jnp.equal(*_pair(x1, x2))


def not_equal(x1: Any, x2: Any) -> Array:
    """`x1 != x2`."""
    return jnp.not_equal(*_pair(x1, x2))


def greater(x1: Any, x2: Any) -> Array:
    """`x1 > x2`."""
    return jnp.greater(*_pair(x1, x2))


def greater_equal(x1: Any, x2: Any) -> Array:
    """`x1 >= x2`."""
    return jnp.greater_equal(*_pair(x1, x2))


def less(x1: Any, x2: Any) -> Array:
    """`x1 < x2`."""
    return jnp.less(*_pair(x1, x2))


def less_equal(x1: Any, x2: Any) -> Array:
    """`x1 <= x2`."""
    return jnp.less_equal(*_pair(x1, x2))


def logical_and(x1: Any, x2: Any) -> Array:
    """Elementwise `x1 and x2`."""
    return jnp.logical_and(*_pair(x1, x2))


def logical_or(x1: Any, x2: Any) -> Array:
    """Elementwise `x1 or x2`."""
    return jnp.logical_or(*_pair(x1, x2))


def logical_xor(x1: Any, x2: Any) -> Array:
    """Elementwise `x1 xor x2`."""
    return jnp.logical_xor(*_pair(x1, x2))


def logical_not(x: Any) -> Array:
    """Elementwise `not x`."""
    return jnp.logical_not(convert_to_tensor(x))


def isnan(x: Any) -> Array:
    """Where `x` is NaN."""
    return jnp.isnan(convert_to_tensor(x))


def isinf(x: Any) -> Array:
    """Where `x` is +inf or -inf."""
    return jnp.isinf(convert_to_tensor(x))


def isfinite(x: Any) -> Array:
    """Where `x` is neither infinite nor NaN."""
    return jnp.isfinite(convert_to_tensor(x))


def isclose(
    x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Array:
    """Where `|x1 - x2| <= atol + rtol * |x2|`."""
    return jnp.isclose(*_pair(x1, x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(
    x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Array:
    """Whether `isclose` holds everywhere."""
    return jnp.allclose(*_pair(x1, x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


def where(condition: Any, x1: Any = None, x2: Any = None) -> Array:
    """`x1` where `condition`, else `x2`; with one argument, the indices where it holds."""
    if x1 is None and x2 is None:
        return jnp.where(convert_to_tensor(condition))
    if x1 is None or x2 is None:
        raise ValueError(
            "where: give both `x1` and `x2`, or neither "
            "(to get the indices where `condition` holds)."
        )
    return jnp.where(convert_to_tensor(condition), *_pair(x1, x2))
