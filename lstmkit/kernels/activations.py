"""Activation functions with Keras 3 definitions, and the name <-> function registry.

Every function is pure: array in, array out. Where Keras 3 (JAX backend) delegates to
`jax.nn`, so do we, which keeps the numbers identical.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import nn as jnn

Activation = Callable[..., jax.Array]


def linear(x: jax.Array) -> jax.Array:
    """Identity: returns `x` unchanged."""
    return x


def tanh(x: jax.Array) -> jax.Array:
    """Hyperbolic tangent."""
    return jnn.tanh(jnp.asarray(x))


def sigmoid(x: jax.Array) -> jax.Array:
    """Logistic sigmoid `1 / (1 + exp(-x))`."""
    return jnn.sigmoid(jnp.asarray(x))


def hard_sigmoid(x: jax.Array) -> jax.Array:
    """Keras 3 hard sigmoid: `relu6(x + 3) / 6`, i.e. `clip(x / 6 + 0.5, 0, 1)`."""
    return jnn.hard_sigmoid(jnp.asarray(x))


def hard_sigmoid_legacy(x: jax.Array) -> jax.Array:
    """Keras 1/2 hard sigmoid: `clip(0.2 * x + 0.5, 0, 1)` (legacy `inner_activation`)."""
    x = jnp.asarray(x)
    return jnp.clip(0.2 * x + 0.5, 0.0, 1.0)


def relu(
    x: jax.Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> jax.Array:
    """Rectified linear unit with Keras's optional slope, cap and threshold.

    Below `threshold` the output is `negative_slope * (x - threshold)`; above it, `x`
    capped at `max_value`. With the defaults this is `max(x, 0)`.
    """
    x = jnp.asarray(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return jnn.leaky_relu(x, negative_slope=negative_slope)
    below = jnn.relu(threshold - x) if negative_slope != 0.0 else None  # distance under threshold
    if threshold != 0:
        y = jnp.where(x > jnp.asarray(threshold, x.dtype), x, jnp.zeros_like(x))
    else:
        y = jnn.relu(x)
    if max_value is not None:
        y = jnp.clip(y, jnp.asarray(0.0, y.dtype), jnp.asarray(max_value, y.dtype))
    if below is not None:
        y = y - negative_slope * below
    return y


def relu6(x: jax.Array) -> jax.Array:
    """`min(max(x, 0), 6)`."""
    return jnn.relu6(jnp.asarray(x))


def leaky_relu(x: jax.Array, negative_slope: float = 0.2) -> jax.Array:
    """`x` if `x >= 0` else `negative_slope * x` (Keras default slope 0.2)."""
    return jnn.leaky_relu(jnp.asarray(x), negative_slope=negative_slope)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """`x` if `x > 0` else `alpha * (exp(x) - 1)`."""
    return jnn.elu(jnp.asarray(x), alpha=alpha)


def selu(x: jax.Array) -> jax.Array:
    """Scaled ELU with the self-normalising constants (alpha≈1.6733, scale≈1.0507)."""
    return jnn.selu(jnp.asarray(x))


def celu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """`x` if `x >= 0` else `alpha * (exp(x / alpha) - 1)`."""
    return jnn.celu(jnp.asarray(x), alpha=alpha)


def softplus(x: jax.Array) -> jax.Array:
    """`log(exp(x) + 1)`, computed stably."""
    return jnn.softplus(jnp.asarray(x))


def softsign(x: jax.Array) -> jax.Array:
    """`x / (|x| + 1)`."""
    return jnn.soft_sign(jnp.asarray(x))


def silu(x: jax.Array) -> jax.Array:
    """Swish / SiLU: `x * sigmoid(x)`."""
    return jnn.silu(jnp.asarray(x))


swish = silu


def hard_silu(x: jax.Array) -> jax.Array:
    """Hard SiLU / hard swish: `x * hard_sigmoid(x)`."""
    return jnn.hard_silu(jnp.asarray(x))


hard_swish = hard_silu


def gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    """Gaussian error linear unit. Keras's *activation* defaults to the exact erf form."""
    return jnn.gelu(jnp.asarray(x), approximate=approximate)


def mish(x: jax.Array) -> jax.Array:
    """`x * tanh(softplus(x))`."""
    x = jnp.asarray(x)
    return x * jnn.tanh(jnn.softplus(x))


def exponential(x: jax.Array) -> jax.Array:
    """`exp(x)`."""
    return jnp.exp(jnp.asarray(x))


def softmax(x: jax.Array, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """`exp(x) / sum(exp(x))` along `axis`."""
    return jnn.softmax(jnp.asarray(x), axis=axis)


def log_softmax(x: jax.Array, axis: int | tuple[int, ...] = -1) -> jax.Array:
    """`x - logsumexp(x)` along `axis`."""
    return jnn.log_softmax(jnp.asarray(x), axis=axis)


def log_sigmoid(x: jax.Array) -> jax.Array:
    """`log(sigmoid(x))`, computed stably."""
    return jnn.log_sigmoid(jnp.asarray(x))


def hard_tanh(x: jax.Array) -> jax.Array:
    """`clip(x, -1, 1)`."""
    return jnn.hard_tanh(jnp.asarray(x))


def tanh_shrink(x: jax.Array) -> jax.Array:
    """`x - tanh(x)`."""
    x = jnp.asarray(x)
    return x - jnp.tanh(x)


def squareplus(x: jax.Array, b: float = 4) -> jax.Array:
    """`(x + sqrt(x**2 + b)) / 2`."""
    return jnn.squareplus(jnp.asarray(x), b=b)


def sparse_plus(x: jax.Array) -> jax.Array:
    """0 below -1, `(x + 1)**2 / 4` on (-1, 1), `x` above 1."""
    return jnn.sparse_plus(jnp.asarray(x))


def sparse_sigmoid(x: jax.Array) -> jax.Array:
    """`clip((x + 1) / 2, 0, 1)`."""
    return jnn.sparse_sigmoid(jnp.asarray(x))


def soft_shrink(x: jax.Array, threshold: float = 0.5) -> jax.Array:
    """Shrinks `x` toward 0 by `threshold`; 0 inside `[-threshold, threshold]`."""
    x = jnp.asarray(x)
    inner = jnp.where(x < -threshold, x + threshold, 0.0)
    return jnp.where(x > threshold, x - threshold, inner)


def hard_shrink(x: jax.Array, threshold: float = 0.5) -> jax.Array:
    """`x` where `|x| > threshold`, else 0."""
    x = jnp.asarray(x)
    return jnp.where(jnp.abs(x) > threshold, x, 0.0)


def threshold(x: jax.Array, threshold: float, default_value: float) -> jax.Array:
    """`x` where `x > threshold`, else `default_value`."""
    x = jnp.asarray(x)
    return jnp.where(x > threshold, x, default_value)


def glu(x: jax.Array, axis: int = -1) -> jax.Array:
    """Gated linear unit: split `x` in halves `a, b` along `axis`, return `a * sigmoid(b)`."""
    return jnn.glu(jnp.asarray(x), axis=axis)


def sparsemax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Euclidean projection of `x` onto the probability simplex along `axis`."""
    x = jnp.asarray(x)
    z = -jnp.sort(-x, axis=axis)  # sorted descending
    cumsum = jnp.cumsum(z, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = jnp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    support = z - (cumsum - 1) / k > 0
    n_support = jnp.sum(support, axis=axis, keepdims=True)
    tau = (jnp.sum(jnp.where(support, cumsum, 0.0), axis=axis, keepdims=True) - 1) / n_support
    return jnp.maximum(x - tau, 0.0)


# Keras name -> function. The first name listed for a function is its canonical name.
_BY_NAME: dict[str, Activation] = {
    "linear": linear,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "celu": celu,
    "softplus": softplus,
    "softsign": softsign,
    "silu": silu,
    "swish": silu,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "gelu": gelu,
    "mish": mish,
    "exponential": exponential,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "log_sigmoid": log_sigmoid,
    "hard_tanh": hard_tanh,
    "tanh_shrink": tanh_shrink,
    "squareplus": squareplus,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "soft_shrink": soft_shrink,
    "hard_shrink": hard_shrink,
    "threshold": threshold,
    "glu": glu,
    "sparsemax": sparsemax,
    # lstmkit-only: the Keras 1/2 formula, for legacy `inner_activation="hard_sigmoid"`.
    "hard_sigmoid_legacy": hard_sigmoid_legacy,
}
_NAME_OF: dict[Activation, str] = {}
for _name, _fn in _BY_NAME.items():
    _NAME_OF.setdefault(_fn, _name)


def names() -> list[str]:
    """All names that `get` accepts."""
    return sorted(_BY_NAME)


def get(identifier: str | Activation | dict | None) -> Activation:
    """Resolve an activation: None -> linear, a callable -> itself, a Keras name -> function.

    A Keras-serialized function dict (`{"class_name": "function", "config": "relu", ...}`)
    is accepted too. Unknown names raise ValueError.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict) and isinstance(identifier.get("config"), str):
        identifier = identifier["config"]
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]
        raise ValueError(
            f"Unknown activation {identifier!r}. Known activations: {', '.join(names())}."
        )
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret activation identifier {identifier!r}: expected None, a name "
        f"({', '.join(names())}) or a callable."
    )


def function_config(fn: Callable[..., object]) -> dict:
    """Keras 3's serialized entry for a plain named Python function (a custom activation,
    initializer, regularizer or constraint). Lambdas cannot be serialized by name."""
    name = getattr(fn, "__name__", None)
    if not callable(fn) or name is None or name == "<lambda>":
        raise ValueError(
            f"Cannot serialize {fn!r}: only named functions and lstmkit's built-in objects "
            "can be written to a config. Define it with `def` instead of `lambda`."
        )
    return {
        "module": getattr(fn, "__module__", None),
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def serialize(fn: Activation) -> str | dict:
    """The Keras name of a built-in activation (what Keras writes into layer configs);
    a custom named function gives Keras's `{"class_name": "function", ...}` entry."""
    try:
        return _NAME_OF[fn]
    except (KeyError, TypeError):
        return function_config(fn)
