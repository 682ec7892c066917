"""`PyDataset` (Keras 3's `keras.utils.PyDataset`, formerly `Sequence`) and its prefetcher.

A PyDataset produces batches on demand: `__getitem__(index)` returns `(x,)`, `(x, y)` or
`(x, y, sample_weight)`, `__len__` (or `num_batches`) says how many. `fit` asks for them in
order; with `workers > 1` (or `use_multiprocessing=True`) an `OrderedEnqueuer` fetches them in a
thread pool (or a process pool) ahead of the training loop, at most `max_queue_size` in flight,
so a dataset larger than memory streams through without being loaded whole.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
import multiprocessing
import random
import warnings
from collections.abc import Iterator
from typing import Any

_WORKER_DATASET: Any = None  # the dataset a worker process reads from (set by its initializer)


class PyDataset:
    """Base class for batch-producing datasets (override `__getitem__` and `__len__`)."""

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = [a for a in ("_workers", "_use_multiprocessing", "_max_queue_size")
                   if not hasattr(self, a)]  # fmt: skip
        if missing:
            self._workers = getattr(self, "_workers", 1)
            self._use_multiprocessing = getattr(self, "_use_multiprocessing", False)
            self._max_queue_size = getattr(self, "_max_queue_size", 10)
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement `__getitem__(index)`.")

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, or None for an endless dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__len__` or the `num_batches` property."
        )

    def __iter__(self) -> Iterator[Any]:
        n = self.num_batches
        for index in range(n) if n is not None else itertools.count():
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called at the beginning of every epoch."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch."""


def _init_worker(dataset: Any) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _get_item(index: int) -> Any:
    return _WORKER_DATASET[index]


class OrderedEnqueuer:
    """Fetches `dataset[i]` for the given indices in a pool, in order, at most `max_queue_size`
    requests ahead of the consumer (Keras's OrderedEnqueuer, bounded the same way)."""

    def __init__(self, dataset: Any, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):  # fmt: skip
        self.dataset, self.workers = dataset, max(1, int(workers))
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max(1, int(max_queue_size))
        self._pool: cf.Executor | None = None

    def start(self) -> None:
        if self._pool is not None:
            return
        if self.use_multiprocessing:
            # Each worker process gets the dataset once (fork: no copy; else pickled once).
            context = multiprocessing.get_context("fork" if _has_fork() else "spawn")
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_init_worker,
                initargs=(self.dataset,),
            )  # fmt: skip
        else:
            self._pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="pydataset")

    def _fetch(self, index: int) -> cf.Future:
        assert self._pool is not None
        if self.use_multiprocessing:
            return self._pool.submit(_get_item, index)
        return self._pool.submit(self.dataset.__getitem__, index)

    def get(self, indices: Iterator[int]) -> Iterator[Any]:
        """The batches for `indices`, in order; requests stay at most `max_queue_size` ahead."""
        self.start()
        pending: collections.deque[cf.Future] = collections.deque()
        indices = iter(indices)
        try:
            for index in itertools.islice(indices, self.max_queue_size):
                pending.append(self._fetch(index))
            while pending:
                batch = pending.popleft().result()
                for index in itertools.islice(indices, 1):
                    pending.append(self._fetch(index))
                yield batch
        finally:
            for f in pending:
                f.cancel()

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _has_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def batch_order(num_batches: int, shuffle: bool) -> list[int]:
    """Keras shuffles a PyDataset's batch order each epoch with Python's `random.shuffle`."""
    order = list(range(num_batches))
    if shuffle:
        random.shuffle(order)
    return order
