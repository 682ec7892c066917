"""`to_categorical` and `normalize` as Keras 3's: numpy in, numpy out; JAX arrays stay JAX."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from lstmkit import ops


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray | jax.Array:
    """Class ids (integers in [0, num_classes)) as one-hot rows; the class axis is last.

    A trailing axis of size 1 is dropped first ((n, 1) gives (n, num_classes)). `num_classes`
    defaults to `max(x) + 1`. numpy input gives float64, as Keras; a JAX array gives float32.
    """
    if isinstance(x, jax.Array):
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x.reshape(x.shape[:-1])
        if num_classes is None:
            num_classes = int(x.max()) + 1
        return ops.one_hot(x, num_classes)
    x = np.array(x, dtype="int64")
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(x)) + 1
    categorical = np.zeros((x.shape[0], num_classes))  # float64, as Keras
    categorical[np.arange(x.shape[0]), x] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray | jax.Array:
    """`x` divided by its `order`-norm along `axis` (zero norms leave `x` unchanged).

    numpy in, numpy out (Keras's numpy path); anything else goes through `ops.normalize`.
    Keras 3 expands the norm at axis -1 whenever `axis=0`, which misaligns it for 2-D input;
    here the norm is broadcast back along the `axis` it was taken over.
    """
    if not isinstance(x, np.ndarray):
        return ops.normalize(x, axis=axis, order=order)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis if axis is not None else -1)
