"""Keras 3's shape, joining, indexing and sorting ops (`reshape`, `stack`, `take`, ...) on JAX.

Part of `lstmkit.ops.numpy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import convert_to_tensor

Array = jax.Array


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def _all(xs: Sequence[Any]) -> list[Array]:
    return [convert_to_tensor(x) for x in xs]


def reshape(x: Any, newshape: int | Sequence[int]) -> Array:
    """`x` with shape `newshape` (one entry may be -1)."""
    return jnp.reshape(convert_to_tensor(x), newshape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Array:
    """`x` with its axes permuted (reversed if `axes` is None)."""
    return jnp.transpose(convert_to_tensor(x), axes=axes)


def expand_dims(x: Any, axis: int | Sequence[int]) -> Array:
    """`x` with a new axis of size 1 at `axis`."""
    return jnp.expand_dims(convert_to_tensor(x), _axis(axis))


def squeeze(x: Any, axis: int | Sequence[int] | None = None) -> Array:
    """`x` without its size-1 axes (only `axis` if given)."""
    return jnp.squeeze(convert_to_tensor(x), axis=_axis(axis))


def ravel(x: Any) -> Array:
    """`x` flattened to 1-D."""
    return jnp.ravel(convert_to_tensor(x))


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Array:
    """`x` with axis `source` moved to `destination`."""
    return jnp.moveaxis(convert_to_tensor(x), source, destination)


def swapaxes(x: Any, axis1: int, axis2: int) -> Array:
    """`x` with two axes exchanged."""
    return jnp.swapaxes(convert_to_tensor(x), axis1, axis2)


def broadcast_to(x: Any, shape: Sequence[int]) -> Array:
    """`x` broadcast to `shape`."""
    return jnp.broadcast_to(convert_to_tensor(x), shape)


def stack(x: Sequence[Any], axis: int = 0) -> Array:
    """The arrays of `x` joined along a new axis."""
    return jnp.stack(_all(x), axis=axis)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Array:
    """The arrays of `xs` joined along an existing axis."""
    return jnp.concatenate(_all(xs), axis=axis)


def hstack(xs: Sequence[Any]) -> Array:
    """The arrays of `xs` joined column-wise (axis 1; axis 0 for 1-D)."""
    return jnp.hstack(_all(xs))


def vstack(xs: Sequence[Any]) -> Array:
    """The arrays of `xs` joined row-wise (axis 0, 1-D arrays as rows)."""
    return jnp.vstack(_all(xs))


def split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Array]:
    """`x` split into equal sections, or at the given indices, along `axis`."""
    return jnp.split(convert_to_tensor(x), indices_or_sections, axis=axis)


def array_split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Array]:
    """Like `split`, but the sections may differ in size by one."""
    return jnp.array_split(convert_to_tensor(x), indices_or_sections, axis=axis)


def repeat(x: Any, repeats: int | Sequence[int], axis: int | None = None) -> Array:
    """Each element of `x` repeated `repeats` times along `axis` (flattened if None)."""
    return jnp.repeat(convert_to_tensor(x), repeats, axis=axis)


def tile(x: Any, repeats: int | Sequence[int]) -> Array:
    """`x` tiled `repeats` times along each axis."""
    return jnp.tile(convert_to_tensor(x), repeats)


def flip(x: Any, axis: int | Sequence[int] | None = None) -> Array:
    """`x` reversed along `axis` (all axes if None)."""
    return jnp.flip(convert_to_tensor(x), axis=_axis(axis))


def roll(x: Any, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Array:
    """`x` shifted cyclically by `shift` along `axis` (flattened if None)."""
    return jnp.roll(convert_to_tensor(x), shift, axis=_axis(axis))


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> Array:
    """`x` padded by `pad_width` ((before, after) per axis)."""
    kwargs = {}
    if constant_values is not None:
        if mode != "constant":
            raise ValueError(
                f"pad: `constant_values` only applies to mode='constant', got mode={mode!r}."
            )
        kwargs["constant_values"] = constant_values
    return jnp.pad(convert_to_tensor(x), pad_width, mode=mode, **kwargs)


def take(x: Any, indices: Any, axis: int | None = None) -> Array:
    """Elements of `x` at `indices` along `axis` (of the flattened `x` if None)."""
    return jnp.take(convert_to_tensor(x), convert_to_tensor(indices), axis=axis)


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Array:
    """Elements of `x` picked by `indices` (same rank) along `axis`."""
    return jnp.take_along_axis(convert_to_tensor(x), convert_to_tensor(indices), axis=axis)


def get_item(x: Any, key: Any) -> Array:
    """`x[key]`."""
    return convert_to_tensor(x)[key]


def tril(x: Any, k: int = 0) -> Array:
    """`x` with the elements above the `k`-th diagonal zeroed."""
    return jnp.tril(convert_to_tensor(x), k=k)


def triu(x: Any, k: int = 0) -> Array:
    """`x` with the elements below the `k`-th diagonal zeroed."""
    return jnp.triu(convert_to_tensor(x), k=k)


def diag(x: Any, k: int = 0) -> Array:
    """The `k`-th diagonal of a matrix, or a matrix with the vector `x` on it."""
    return jnp.diag(convert_to_tensor(x), k=k)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The diagonal of the (axis1, axis2) planes of `x`."""
    return jnp.diagonal(convert_to_tensor(x), offset=offset, axis1=axis1, axis2=axis2)


def diff(a: Any, n: int = 1, axis: int = -1) -> Array:
    """The `n`-th discrete difference along `axis`."""
    return jnp.diff(convert_to_tensor(a), n=n, axis=axis)


def size(x: Any) -> int:
    """Number of elements of `x`."""
    return jnp.size(convert_to_tensor(x))


def ndim(x: Any) -> int:
    """Number of axes of `x`."""
    return jnp.ndim(convert_to_tensor(x))


def copy(x: Any) -> Array:
    """A copy of `x`."""
    return jnp.copy(convert_to_tensor(x))


def nonzero(x: Any) -> tuple[Array, ...]:
    """Indices of the non-zero elements, one array per axis (not traceable under `jit`)."""
    return jnp.nonzero(convert_to_tensor(x))


def meshgrid(*x: Any, indexing: str = "xy") -> list[Array]:
    """Coordinate grids from 1-D coordinate vectors."""
    return jnp.meshgrid(*_all(x), indexing=indexing)


def sort(x: Any, axis: int = -1) -> Array:
    """`x` sorted ascending along `axis`."""
    return jnp.sort(convert_to_tensor(x), axis=axis)


def argsort(x: Any, axis: int = -1) -> Array:
    """Indices that sort `x` ascending along `axis` (stable)."""
    x = convert_to_tensor(x)
    return jnp.argsort(x, axis=None if x.ndim == 0 else axis)


def searchsorted(sorted_sequence: Any, values: Any, side: str = "left") -> Array:
    """Where `values` would be inserted into the 1-D `sorted_sequence` to keep it sorted."""
    sorted_sequence = convert_to_tensor(sorted_sequence)
    if sorted_sequence.ndim != 1:
        raise ValueError(
            f"searchsorted: `sorted_sequence` must be 1-D, got shape {sorted_sequence.shape}; "
            "use `vectorized_map` for N-D sequences."
        )
    return jnp.searchsorted(sorted_sequence, convert_to_tensor(values), side=side)


def digitize(x: Any, bins: Any) -> Array:
    """Index of the bin of `bins` each value of `x` falls into."""
    return jnp.digitize(convert_to_tensor(x), convert_to_tensor(bins))
