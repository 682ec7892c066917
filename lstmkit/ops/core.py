"""Keras 3's core ops (`keras.ops.cast`, `convert_to_tensor`, `scan`, ...) on JAX.

Every op in `lstmkit.ops` first turns its array arguments into JAX arrays with
`convert_to_tensor`, which accepts numpy arrays, Python scalars and lists, JAX arrays and
any object with `__jax_array__` (a layer's `Variable`). JAX no longer converts the last
kind implicitly, so this one conversion is what lets custom layers pass weights straight in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

FLOATX = "float32"  # Keras's default float type (`keras.config.floatx()`)
EPSILON = 1e-7  # Keras's fuzz factor (`keras.config.epsilon()`)


def standardize_dtype(dtype: Any) -> str | None:
    """A dtype as Keras spells it ("float32", "int32", "bool", ...); None stays None."""
    if dtype is None:
        return None
    if dtype in (int, "int"):
        return "int32"  # Keras maps Python int to int32 while 64-bit JAX types are off
    if dtype in (float, "float"):
        return FLOATX
    if dtype in (bool, "bool"):
        return "bool"
    return np.dtype(getattr(dtype, "dtype", dtype)).name if not isinstance(dtype, str) else dtype


def _at_least_float32(x: jax.Array) -> jnp.dtype:
    """Keras computes statistics and normalizations in `result_type(x.dtype, float32)`: float16
    and ints in float32, float64 stays."""
    return (
        jnp.promote_types(x.dtype, "float32")
        if jnp.issubdtype(x.dtype, jnp.inexact)
        else jnp.dtype("float32")
    )


def convert_to_tensor(
    x: Any, dtype: Any = None, sparse: bool | None = None, ragged: bool | None = None
) -> jax.Array:
    """`x` as a JAX array (of `dtype` if given); JAX arrays of that dtype pass through."""
    if ragged:
        raise ValueError(
            "convert_to_tensor: `ragged=True` is not supported (JAX has no ragged tensors)."
        )
    if sparse:
        raise ValueError("convert_to_tensor: `sparse=True` is not supported by lstmkit.ops.")
    dtype = standardize_dtype(dtype)
    if isinstance(x, jax.Array) and (dtype is None or x.dtype == dtype):
        return x
    if hasattr(x, "__jax_array__"):
        x = x.__jax_array__()
    elif isinstance(x, (list, tuple)) and any(hasattr(v, "__jax_array__") for v in x):
        x = [convert_to_tensor(v) for v in x]  # a list of Variables: stack their values
    return jnp.asarray(x, dtype=dtype)


def _leaves_to_tensors(tree: Any) -> Any:
    """A pytree with its `__jax_array__` leaves (Variables) turned into arrays, for `lax` loops."""
    return jax.tree.map(
        lambda v: convert_to_tensor(v) if hasattr(v, "__jax_array__") else v,
        tree,
        is_leaf=lambda v: hasattr(v, "__jax_array__"),
    )


def convert_to_numpy(x: Any) -> np.ndarray:
    """`x` as a numpy array (a copy for JAX arrays, as Keras)."""
    if hasattr(x, "__jax_array__"):
        x = x.__jax_array__()
    return np.array(x)


def is_tensor(x: Any) -> bool:
    """Whether `x` is a JAX array (numpy arrays and Variables are not, as in Keras)."""
    return isinstance(x, jax.Array)


def cast(x: Any, dtype: Any) -> jax.Array:
    """`x` converted to `dtype`."""
    return convert_to_tensor(x, dtype=standardize_dtype(dtype))


def saturate_cast(x: Any, dtype: Any) -> jax.Array:
    """Cast to `dtype`, clipping values to its range first (no wrap-around on overflow)."""
    x = convert_to_tensor(x)
    dtype = standardize_dtype(dtype)
    if dtype != "bool" and jnp.issubdtype(x.dtype, jnp.number):
        info = jnp.finfo(dtype) if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype)
        src = jnp.finfo(x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype)
        lo, hi = max(float(info.min), float(src.min)), min(float(info.max), float(src.max))
        x = jnp.clip(x, jnp.asarray(lo).astype(x.dtype), jnp.asarray(hi).astype(x.dtype))
    return x.astype(dtype)


def float_tensor(x: Any) -> jax.Array:
    """`x` as a tensor, integers and booleans cast to float32 (Keras's `result_type(x, float)`)."""
    x = convert_to_tensor(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(FLOATX)


def dtype(x: Any) -> str:
    """The dtype of `x` as Keras spells it ("float32", ...)."""
    return standardize_dtype(convert_to_tensor(x).dtype)


def shape(x: Any) -> tuple[int, ...]:
    """The shape of `x` as a tuple of ints."""
    return tuple(getattr(x, "shape", None) or np.shape(convert_to_tensor(x)))


def slice(inputs: Any, start_indices: Sequence[Any], shape: Sequence[int]) -> jax.Array:  # noqa: A001
    """The block of `inputs` of `shape` starting at `start_indices` (-1 in `shape`: to the end)."""
    inputs = convert_to_tensor(inputs)
    sizes = tuple(inputs.shape[i] - start_indices[i] if s == -1 else s for i, s in enumerate(shape))
    return jax.lax.dynamic_slice(inputs, start_indices, sizes)


def slice_update(inputs: Any, start_indices: Sequence[Any], updates: Any) -> jax.Array:
    """`inputs` with the block at `start_indices` replaced by `updates`."""
    return jax.lax.dynamic_update_slice(
        convert_to_tensor(inputs), convert_to_tensor(updates), start_indices
    )


def scatter(indices: Any, values: Any, shape: Sequence[int]) -> jax.Array:
    """Zeros of `shape` with `values` added at `indices` (shape (n, rank))."""
    values = convert_to_tensor(values)
    index = tuple(jnp.moveaxis(convert_to_tensor(indices), -1, 0))  # one index array per axis
    return jnp.zeros(shape, values.dtype).at[index].add(values)


def scatter_update(
    inputs: Any, indices: Any, updates: Any, reduction: str | None = None
) -> jax.Array:
    """`inputs` with `updates` written (or combined by `reduction`) at `indices` (n, rank)."""
    inputs = convert_to_tensor(inputs)
    at = inputs.at[tuple(jnp.transpose(jnp.asarray(indices)))]
    updates = convert_to_tensor(updates)
    actions = {None: at.set, "add": at.add, "max": at.max, "min": at.min, "mul": at.multiply}
    if reduction not in actions:
        raise ValueError(
            f"scatter_update: unsupported reduction={reduction!r}; "
            "expected one of None, add, max, min, mul."
        )
    return actions[reduction](updates)


def stop_gradient(variable: Any) -> jax.Array:
    """`variable` with no gradient flowing back through it."""
    return jax.lax.stop_gradient(convert_to_tensor(variable))


def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[jax.Array]:
    """The slices of `x` along `axis`, as a list."""
    x = convert_to_tensor(x)
    return [jax.lax.index_in_dim(x, i, axis, keepdims=False) for i in range(x.shape[axis])]


def cond(pred: Any, true_fn: Callable, false_fn: Callable) -> Any:
    """`true_fn()` if `pred` else `false_fn()`, traceable under `jit`."""
    return jax.lax.cond(convert_to_tensor(pred), true_fn, false_fn)


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """`branches[index](*operands)`, with `index` clamped to the valid range."""
    return jax.lax.switch(convert_to_tensor(index), branches, *_leaves_to_tensors(operands))


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val: Any) -> Any:
    """`val = body_fun(i, val)` for `i` in `range(lower, upper)`."""
    return jax.lax.fori_loop(lower, upper, body_fun, _leaves_to_tensors(init_val))


def while_loop(
    cond: Callable, body: Callable, loop_vars: Any, maximum_iterations: int | None = None
) -> Any:
    """Keras's while loop: `loop_vars = body(*loop_vars)` while `cond(*loop_vars)`."""
    is_sequence = isinstance(loop_vars, (tuple, list))
    loop_vars = _leaves_to_tensors(loop_vars)
    state = (tuple(loop_vars) if is_sequence else (loop_vars,), 0)

    def keep_going(carry):
        values, step = carry
        ok = cond(*values)
        return ok if maximum_iterations is None else jnp.logical_and(ok, step < maximum_iterations)

    def step_once(carry):
        values, step = carry
        out = body(*values)
        return (tuple(out) if is_sequence else (out,)), step + 1

    values, _ = jax.lax.while_loop(keep_going, step_once, state)
    return values if is_sequence else values[0]


def scan(
    f: Callable,
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int | bool = 1,
) -> tuple[Any, Any]:
    """`jax.lax.scan`: carry `init` through `f(carry, x)` over the leading axis of `xs`."""
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"scan: `unroll` must be a positive int or a bool, got unroll={unroll!r}.")
    init, xs = _leaves_to_tensors(init), _leaves_to_tensors(xs)
    return jax.lax.scan(f, init, xs=xs, length=length, reverse=reverse, unroll=unroll)


def associative_scan(f: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """Parallel prefix scan of the associative `f` over `elems` along `axis`."""
    return jax.lax.associative_scan(f, _leaves_to_tensors(elems), reverse=reverse, axis=axis)


def map(f: Callable, xs: Any) -> Any:  # noqa: A001
    """`f` applied to each slice of `xs` along its leading axis (sequentially)."""
    return jax.lax.map(f, _leaves_to_tensors(xs))


def vectorized_map(function: Callable, elements: Any) -> Any:
    """`function` applied to each slice of `elements` along its leading axis (vectorized)."""
    return jax.vmap(function)(_leaves_to_tensors(elements))
