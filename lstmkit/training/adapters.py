"""Batches from generators, PyDatasets and other iterables, for fit / evaluate / predict.

Keras 3's data adapters, for what is not an array: a `PyDataset` (batch `i` is `dataset[i]`,
fetched ahead in a thread or process pool when it asks for `workers`), a re-iterable object such
as `timeseries_dataset_from_array`'s (walked afresh each epoch), and a one-shot Python generator
or iterator (walked once, across epochs). Each batch is `x`, `(x,)`, `(x, y)` or
`(x, y, sample_weight)`; the model side hands a `prepare` function that turns one into lists of
arrays. Batches are pulled only when the loop needs them, so data larger than memory streams.

A `BatchSource` offers what the loops use from `data.BatchStream`: `epoch()` yielding
`(begin_step, end_step, [Batch])`, `steps` and `batch_size`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from lstmkit.utils.py_dataset import OrderedEnqueuer, PyDataset, batch_order

RAN_OUT = (
    "Your input ran out of data; interrupting training. Make sure that your dataset or "
    "generator can generate at least `steps_per_epoch * epochs` batches."
)


class Batch(NamedTuple):
    """One prepared batch: per-input arrays, per-output arrays (or None), sample weights."""

    x: list
    y: list | None
    sw: np.ndarray | None

    @property
    def rows(self) -> int:
        return len(self.x[0])


def is_batch_source(data: Any) -> bool:
    """A generator, iterator, PyDataset or re-iterable that is not array data."""
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    if isinstance(data, PyDataset):
        return True
    if hasattr(data, "__array__") or hasattr(data, "shape"):
        return False
    return hasattr(data, "__next__") or hasattr(data, "__iter__")


def split_batch(raw: Any, what: str) -> tuple[Any, Any, Any]:
    """`x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` as (x, y, sample_weight)."""
    if isinstance(raw, list):
        raw = tuple(raw)
    if not isinstance(raw, tuple):
        return raw, None, None
    if not 1 <= len(raw) <= 3:
        raise ValueError(
            f"{what}: each batch must be `(inputs,)`, `(inputs, targets)` or "
            f"`(inputs, targets, sample_weights)`; got a tuple of {len(raw)} elements."
        )
    return (*raw, *([None] * (3 - len(raw))))


class BatchSource:
    """Epochs of prepared batches from a PyDataset, a re-iterable or a one-shot iterator."""

    def __init__(
        self,
        data: Any,
        prepare: Callable[[Any], Batch],
        *,
        steps_per_epoch: int | None = None,
        shuffle: bool = False,
        what: str = "fit",
    ):
        self.data, self.prepare, self.what = data, prepare, what
        self.steps_per_epoch, self.shuffle = steps_per_epoch, shuffle
        self.is_py_dataset = isinstance(data, PyDataset)
        self.one_shot = not self.is_py_dataset and hasattr(data, "__next__")
        self.batch_size = None  # unknown: each batch brings its own size
        self._walk: Iterator[Any] | None = iter(data) if self.one_shot else None
        self._peeked: list = []
        self._enqueuer: OrderedEnqueuer | None = None
        self.exhausted = False  # a one-shot iterator came to its end
        if self.is_py_dataset and data.num_batches is None and steps_per_epoch is None:
            raise ValueError(
                f"{what}: the PyDataset {type(data).__name__} is endless (num_batches is None); "
                "pass `steps_per_epoch` (or `steps` / `validation_steps`)."
            )

    @property
    def length(self) -> int | None:
        """Batches in one pass over the data, when known."""
        if self.is_py_dataset:
            return self.data.num_batches
        return len(self.data) if hasattr(self.data, "__len__") else None

    @property
    def steps(self) -> int | None:
        return self.steps_per_epoch or self.length

    def first(self) -> Batch:
        """The first batch (to learn the target shapes); the walk will yield it again."""
        if self.is_py_dataset:
            return self.prepare(self.data[0])
        if not self.one_shot:  # a re-iterable: a separate look at its first batch
            raw = next(iter(self.data), None)
            if raw is None:
                raise ValueError(f"{self.what}: the data yielded no batches.")
            return self.prepare(raw)
        if not self._peeked:
            try:
                self._peeked.append(next(self._walk))
            except StopIteration:
                raise ValueError(f"{self.what}: the data yielded no batches.") from None
        return self.prepare(self._peeked[0])

    def require_steps_for_epochs(self, epochs: int, steps_name: str) -> None:
        """A generator is walked once: several epochs need to know where each one ends."""
        if self.one_shot and epochs > 1 and self.steps_per_epoch is None:
            raise ValueError(
                f"{self.what}: a Python generator or iterator can be walked only once, so with "
                f"{epochs} epochs pass `{steps_name}=` (batches per epoch) and let it yield "
                "forever, or give a `PyDataset` / re-iterable object instead."
            )

    def _new_walk(self) -> Iterator[Any]:
        if self.one_shot:
            return iter(self.data)
        if not self.is_py_dataset:
            return iter(self.data)
        n = self.data.num_batches
        order = iter(batch_order(n, self.shuffle)) if n is not None else itertools.count()
        ds = self.data
        if ds.workers > 1 or (ds.workers > 0 and ds.use_multiprocessing):
            self._enqueuer = OrderedEnqueuer(
                ds, ds.workers, ds.use_multiprocessing, ds.max_queue_size
            )
            return self._enqueuer.get(order)
        return (ds[i] for i in order)

    def _end_walk(self) -> None:
        if self._enqueuer is not None:
            self._enqueuer.stop()
            self._enqueuer = None
        self._walk = None

    def _next_raw(self) -> Any:
        if self._peeked:
            return self._peeked.pop()
        if self._walk is None:
            self._walk = self._new_walk()
        return next(self._walk)

    def epoch(self) -> Iterator[tuple[int, int, list[Batch]]]:
        """One epoch's batches: `steps_per_epoch` of them, else one pass over the data."""
        if self.is_py_dataset:
            self.data.on_epoch_begin()
        if self.steps_per_epoch is None and not self.one_shot:
            self._end_walk()  # each epoch is a fresh pass
        step = 0
        try:
            while self.steps_per_epoch is None or step < self.steps_per_epoch:
                try:
                    raw = self._next_raw()
                except StopIteration:
                    if self.one_shot:
                        self.exhausted = True
                    else:
                        self._end_walk()
                    if self.steps_per_epoch is not None:
                        warnings.warn(RAN_OUT, stacklevel=3)
                    break
                yield step, step, [self.prepare(raw)]
                step += 1
        finally:
            if self.steps_per_epoch is None and not self.one_shot:
                self._end_walk()
            if self.is_py_dataset:
                self.data.on_epoch_end()

    def close(self) -> None:
        self._end_walk()
