"""`split_dataset`: Keras 3's `keras.utils.split_dataset` for numpy data; the batches `adapt` reads.

Keras returns two `tf.data.Dataset`s of samples; lstmkit returns the two halves in the form it
was given (an array, a tuple or a list of arrays), ready for `fit`. The sizes, their checks and
the shuffle are Keras's: `random.seed(seed)` then `random.shuffle` of the samples, the left part
from the front and the right part from the back.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np


def _check_size(value: Any, name: str, total: int) -> None:
    if value is None:
        return
    if type(value) not in (int, float):
        raise TypeError(
            f"split_dataset: invalid `{name}` type. Expected: int or float or None, "
            f"Received: type({name})={type(value)}."
        )
    if (type(value) is int and not 0 < value < total) or (
        type(value) is float and not 0 < value < 1
    ):
        raise ValueError(
            f"split_dataset: `{name}` should be either a positive integer smaller than {total}, "
            f"or a float within the range `[0, 1]`. Received: {name}={value}"
        )


def _rescale_sizes(left: Any, right: Any, total: int) -> tuple[int, int]:
    """Keras's `_rescale_dataset_split_sizes`: fractions rounded, the missing side the rest."""
    if left == 0 and right == 0:
        raise ValueError("split_dataset: both `left_size` and `right_size` are zero.")
    _check_size(left, "left_size", total)
    _check_size(right, "right_size", total)
    if type(left) is float and type(right) is float and left + right > 1:
        raise ValueError(
            "split_dataset: the sum of `left_size` and `right_size` is greater than 1. "
            "It must be less than or equal to 1."
        )
    left_n = round(left * total) if type(left) is float else left
    right_n = round(right * total) if type(right) is float else right
    left_n = total - right_n if left_n is None else left_n
    right_n = total - left_n if right_n is None else right_n
    if left_n + right_n > total:
        raise ValueError(
            f"split_dataset: left_size + right_size = {left_n + right_n} is more than the "
            f"{total} samples of the dataset."
        )
    for size, side in ((left_n, "left"), (right_n, "right")):
        if size == 0:
            raise ValueError(
                f"split_dataset: with a dataset of {total} samples, left_size={left} and "
                f"right_size={right}, the {side} split would be empty."
            )
    return int(left_n), int(right_n)


def _arrays_of(dataset: Any) -> list[np.ndarray]:
    if isinstance(dataset, np.ndarray):
        return [dataset]
    if isinstance(dataset, (list, tuple)) and dataset:
        arrays = [np.asarray(a) for a in dataset]
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            raise ValueError(
                "split_dataset: the arrays must have the same number of samples; got lengths "
                f"{[len(a) for a in arrays]}."
            )
        return arrays
    raise TypeError(
        "split_dataset: `dataset` must be a numpy array, or a non-empty list/tuple of arrays "
        f"with the same length. Received: dataset of type {type(dataset)}."
    )


def split_dataset(
    dataset: Any,
    left_size: int | float | None = None,
    right_size: int | float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tuple[Any, Any]:
    """Split `dataset` (an array, or a tuple/list of same-length arrays) into left and right."""
    arrays = _arrays_of(dataset)
    if left_size is None and right_size is None:
        raise ValueError(
            "split_dataset: at least one of `left_size` or `right_size` must be specified. "
            "Received: left_size=None and right_size=None"
        )
    total = len(arrays[0])
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.seed(seed)  # Keras seeds the global `random` module the same way
        random.shuffle(order)
    left_n, right_n = _rescale_sizes(left_size, right_size, total)
    left_idx, right_idx = np.array(order[:left_n]), np.array(order[total - right_n :])

    def pick(idx: np.ndarray) -> Any:
        parts = [a[idx] for a in arrays]
        if isinstance(dataset, np.ndarray):
            return parts[0]
        return tuple(parts) if isinstance(dataset, tuple) else parts

    return pick(left_idx), pick(right_idx)


def adapt_batches(data: Any, steps: int | None) -> Iterator[Any]:
    """What `adapt(data, steps=)` reads: an array, list or tensor is one batch; any other
    iterable yields batches, at most `steps` of them."""
    if isinstance(data, (list, tuple, np.ndarray, str, bytes)) or hasattr(data, "numpy"):
        yield data
        return
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            return
        yield batch
