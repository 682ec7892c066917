"""Turning user data into per-input / per-output lists of numpy arrays, and batching them."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np


def as_array_list(data: Any, names: Sequence[str], what: str) -> list[np.ndarray]:
    """x or y as one array per model input/output: an array, a list, or a dict keyed by name."""
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"{what}: dict is missing entries for {missing}; got {list(data)}.")
        data = [data[n] for n in names]
    elif len(names) == 1:
        one_array_in_list = isinstance(data, (list, tuple)) and len(data) == 1
        data = [data[0]] if one_array_in_list and hasattr(data[0], "shape") else [data]
    elif not isinstance(data, (list, tuple)):
        data = [data]
    arrays = []
    for a in data:
        a = np.asarray(a)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        arrays.append(a)
    if len(arrays) != len(names):
        raise ValueError(
            f"{what}: the model has {len(names)} {what.split()[0]} array(s) {list(names)}, "
            f"got {len(arrays)}."
        )
    return arrays


def check_lengths(x: list[np.ndarray], y: list[np.ndarray] | None, sw: np.ndarray | None) -> int:
    """All arrays must have the same number of samples; returns it."""
    sizes = {f"x[{i}]": a.shape[0] if a.ndim else 0 for i, a in enumerate(x)}
    if y is not None:
        sizes.update({f"y[{i}]": a.shape[0] if a.ndim else 0 for i, a in enumerate(y)})
    if sw is not None:
        sizes["sample_weight"] = len(sw)
    counts = set(sizes.values())
    if len(counts) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(
            f"Data cardinality is ambiguous: inputs have different lengths ({detail})."
        )
    n = counts.pop()
    if n == 0:
        raise ValueError("The data is empty: x has 0 samples.")
    return n


def class_weights_to_sample_weights(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """Keras's rule: the class of a sample is argmax(y) for one-hot rows, else int(y)."""
    classes = np.argmax(y, axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)
    classes = np.asarray(classes).reshape(len(y), -1)[:, 0].round().astype(int)
    unknown = set(np.unique(classes)) - set(class_weight)
    if unknown:
        raise ValueError(
            f"class_weight has no entry for class(es) {sorted(unknown)}; "
            f"it has {sorted(class_weight)}."
        )
    return np.array([class_weight[c] for c in classes], np.float32)


def split_validation(arrays: list, fraction: float) -> tuple[list, list]:
    """The last `fraction` of the samples (before any shuffling) become validation data."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}.")
    n = next(len(a) for a in arrays if a is not None)
    cut = int(n * (1.0 - fraction))
    if cut == 0 or cut == n:
        raise ValueError(f"validation_split={fraction} leaves no data on one side of {n} samples.")
    return [None if a is None else a[:cut] for a in arrays], [
        None if a is None else a[cut:] for a in arrays
    ]


def batches(
    n: int, batch_size: int, shuffle: bool, rng: np.random.Generator | None
) -> Iterator[np.ndarray | slice]:
    """Each batch's rows: index arrays in a shuffled order, else slices (views, no copies)."""
    if not shuffle:
        for start in range(0, n, batch_size):
            yield slice(start, min(start + batch_size, n))
        return
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def rows(idx: np.ndarray | slice) -> int:
    """How many rows a batch from `batches` holds."""
    return idx.stop - idx.start if isinstance(idx, slice) else len(idx)


def as_indices(idx: np.ndarray | slice) -> np.ndarray:
    return np.arange(idx.start, idx.stop) if isinstance(idx, slice) else idx


def check_steps(value: Any, name: str) -> int | None:
    """None or a positive int (`steps_per_epoch`, `validation_steps`, `steps`, ...)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer or None, got {value!r}.")
    return int(value)


class BatchStream:
    """Keras 3's EpochIterator over arrays: each epoch yields `(begin_step, end_step, batches)`,
    `batches` being up to `steps_per_execution` index arrays.

    Without `steps_per_epoch` every epoch walks the data once. With it, the walk continues
    across epochs and restarts (reshuffled) once the data is used up; an epoch that reaches the
    end early stops there with Keras's "ran out of data" warning.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        steps_per_epoch: int | None = None,
        steps_per_execution: int = 1,
    ):
        self.n, self.batch_size, self.shuffle, self.rng = n, batch_size, shuffle, rng
        self.steps_per_epoch = steps_per_epoch
        self.per_execution = steps_per_execution
        self.num_batches = -(-n // batch_size)
        self._walk: Iterator[np.ndarray] | None = None
        self._seen = 0

    @property
    def steps(self) -> int:
        """What the progress bar counts to: `steps_per_epoch`, else batches in the data."""
        return self.steps_per_epoch or self.num_batches

    def epoch(self) -> Iterator[tuple[int, int, list[np.ndarray]]]:
        k = self.per_execution
        if self._walk is None or self.steps_per_epoch is None:
            self._walk, self._seen = batches(self.n, self.batch_size, self.shuffle, self.rng), 0
        for step in range(0, self.steps, k):
            if self._seen >= self.num_batches:
                if self.steps_per_epoch:
                    warnings.warn(
                        "Your input ran out of data; interrupting training. Make sure that "
                        "your dataset or generator can generate at least "
                        "`steps_per_epoch * epochs` batches.",
                        stacklevel=3,
                    )
                break
            self._seen += k
            chunk = list(itertools.islice(self._walk, k))
            if chunk:
                yield step, step + k - 1, chunk
        if self._seen >= self.num_batches:
            self._walk = None


def take(arrays: list | None, idx: np.ndarray) -> list | None:
    return None if arrays is None else [a[idx] for a in arrays]


def bucket(size: int, batch_size: int) -> int:
    """Pad a prediction batch to a power of two (at most batch_size) so sizes share programs."""
    b = 1
    while b < size:
        b *= 2
    return min(max(b, size), max(batch_size, size))


def pad_rows(arrays: list[np.ndarray], rows: int) -> list[np.ndarray]:
    out = []
    for a in arrays:
        extra = rows - a.shape[0]
        out.append(a if extra == 0 else np.concatenate([a, np.repeat(a[-1:], extra, axis=0)]))
    return out
