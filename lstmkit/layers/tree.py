"""Nested structures of arrays and shapes: Keras-ordered leaves, shapes, conversion to arrays."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_shape(s: Any) -> bool:
    """A single shape (a tuple of ints/None), as opposed to a list of shapes."""
    return isinstance(s, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


def ordered_leaves(tree: Any) -> list:
    """Leaves of nested dicts in insertion order (jax sorts dict keys; Keras orders by creation)."""
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in ordered_leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in ordered_leaves(v)]
    return [] if tree is None else [tree]


def ordered_unflatten(tree: Any, leaves: list) -> Any:
    """The inverse of `ordered_leaves`: `tree`'s structure filled with `leaves`."""
    it = iter(leaves)

    def fill(t):
        if isinstance(t, dict):
            return {k: fill(v) for k, v in t.items()}
        if isinstance(t, (list, tuple)):
            return [fill(v) for v in t]
        return None if t is None else next(it)

    return fill(tree)


def dtype_name(dtype: Any) -> str:
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):  # a Keras 3 DTypePolicy config
        return dtype.get("config", {}).get("name", "float32")
    return str(jnp.dtype(dtype))


def to_arrays(tree: Any, device: bool = True) -> Any:
    """numpy/python values -> jax arrays (floats as float32 unless already jax arrays).
    `device=False` leaves them numpy arrays (same dtypes) for a jitted call, which moves them
    itself at a third of `jnp.asarray`'s cost (~5 vs ~16 µs)."""

    def convert(x):
        if x is None or isinstance(x, jax.Array):  # None: an absent mask in a list of masks
            return x
        a = np.asarray(x)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        return jnp.asarray(a) if device else a

    if isinstance(tree, (list, tuple)):
        return [to_arrays(t, device) for t in tree]
    return convert(tree)
