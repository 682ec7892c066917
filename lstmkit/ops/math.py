"""Keras 3's math ops (`top_k`, `logsumexp`, `segment_sum`, `erf`, `rsqrt`, ...) on JAX."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import convert_to_tensor

Array = jax.Array


def top_k(x: Any, k: int, sorted: bool = True) -> tuple[Array, Array]:  # noqa: A002 (Keras's name)
    """The `k` largest values along the last axis, and their indices (always sorted)."""
    return jax.lax.top_k(convert_to_tensor(x), k)


def in_top_k(targets: Any, predictions: Any, k: int) -> Array:
    """Whether each target's prediction ranks in the top `k` (ties count in; NaN never)."""
    targets, predictions = convert_to_tensor(targets), convert_to_tensor(predictions)
    at_label = jnp.take_along_axis(predictions, targets[..., None], axis=-1)  # (batch, 1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(predictions > at_label, axis=-1)  # (batch,)
    return rank <= k


def logsumexp(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Array:
    """`log(sum(exp(x)))` over `axis`, computed stably."""
    axis = tuple(axis) if isinstance(axis, list) else axis
    return jax.scipy.special.logsumexp(convert_to_tensor(x), axis=axis, keepdims=keepdims)


def _check_segments(name: str, data: Array, segment_ids: Array, num_segments: int | None) -> None:
    if segment_ids.ndim != 1:
        raise ValueError(f"{name}: `segment_ids` must be 1-D, got shape {segment_ids.shape}.")
    if segment_ids.shape[0] != data.shape[0]:
        raise ValueError(
            f"{name}: `segment_ids` and `data` must share their leading axis, "
            f"got {segment_ids.shape} and {data.shape}."
        )
    if num_segments is None:
        raise ValueError(
            f"{name}: `num_segments` must be given with JAX (shapes are static), got None."
        )


def segment_sum(
    data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False
) -> Array:  # noqa: A002
    """Sum of the rows of `data` sharing each segment id."""
    data, segment_ids = convert_to_tensor(data), convert_to_tensor(segment_ids)
    _check_segments("segment_sum", data, segment_ids, num_segments)
    return jax.ops.segment_sum(data, segment_ids, num_segments, indices_are_sorted=sorted)


def segment_max(
    data: Any, segment_ids: Any, num_segments: int | None = None, sorted: bool = False
) -> Array:  # noqa: A002
    """Maximum of the rows of `data` sharing each segment id."""
    data, segment_ids = convert_to_tensor(data), convert_to_tensor(segment_ids)
    _check_segments("segment_max", data, segment_ids, num_segments)
    return jax.ops.segment_max(data, segment_ids, num_segments, indices_are_sorted=sorted)


def erf(x: Any) -> Array:
    """The error function."""
    return jax.lax.erf(convert_to_tensor(x))


def erfinv(x: Any) -> Array:
    """The inverse error function."""
    return jax.scipy.special.erfinv(convert_to_tensor(x))


def rsqrt(x: Any) -> Array:
    """`1 / sqrt(x)`."""
    return jax.lax.rsqrt(convert_to_tensor(x))


def extract_sequences(x: Any, sequence_length: int, sequence_stride: int) -> Array:
    """Frames of `sequence_length` taken every `sequence_stride` along the last axis of `x`."""
    x = convert_to_tensor(x)
    *batch, length = x.shape
    starts = jnp.arange(0, length - sequence_length + 1, sequence_stride)  # (frames,)
    index = starts[:, None] + jnp.arange(sequence_length)[None, :]  # (frames, sequence_length)
    return x[..., index]  # (*batch, frames, sequence_length)
