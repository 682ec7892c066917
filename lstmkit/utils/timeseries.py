"""`timeseries_dataset_from_array`: sliding windows over a series, as batches of numpy arrays.

Keras 3 returns a `tf.data.Dataset`; this returns a plain re-iterable Python object with the same
batches (`for x, y in dataset`, `len(dataset)` batches), which `fit` can take like any generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class TimeseriesDataset:
    """Windows `data[start + p + i * sampling_rate]` for each start position `p`, in batches.

    Iterating yields `x` batches of shape (batch, sequence_length, *data.shape[1:]), or `(x, y)`
    with `y = targets[start + p]` when targets were given. Each iteration walks the same order.
    """

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray | None,
        positions: np.ndarray,
        sequence_length: int,
        sampling_rate: int,
        batch_size: int | None,
    ) -> None:
        self.data, self.targets, self.positions = data, targets, positions
        self.sequence_length, self.sampling_rate, self.batch_size = (
            sequence_length,
            sampling_rate,
            batch_size,
        )

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.positions)
        return -(-len(self.positions) // self.batch_size)  # ceil: the last batch may be short

    def _window_batch(self, starts: np.ndarray) -> Any:
        offsets = np.arange(self.sequence_length) * self.sampling_rate  # (sequence_length,)
        x = self.data[starts[:, None] + offsets[None, :]]  # (batch, sequence_length, *features)
        return x if self.targets is None else (x, self.targets[starts])

    def __iter__(self) -> Iterator[Any]:
        if self.batch_size is None:  # single windows, no batch axis (Keras's batch_size=None)
            for p in self.positions:
                x = self._window_batch(np.array([p]))
                yield (x[0][0], x[1][0]) if isinstance(x, tuple) else x[0]
            return
        for i in range(0, len(self.positions), self.batch_size):
            yield self._window_batch(self.positions[i : i + self.batch_size])

    def __repr__(self) -> str:
        return (
            f"TimeseriesDataset({len(self.positions)} windows of {self.sequence_length} steps, "
            f"batch_size={self.batch_size}, targets={self.targets is not None})"
        )


def _check_arguments(
    n: int, sequence_stride: int, sampling_rate: int, start_index: Any, end_index: Any
) -> None:
    """Keras's argument checks, with its messages' facts."""
    name = "timeseries_dataset_from_array"
    if start_index:
        if start_index < 0:
            raise ValueError(f"{name}: `start_index` must be 0 or greater, got {start_index}.")
        if start_index >= n:
            raise ValueError(
                f"{name}: `start_index` must be lower than the length of the data ({n}), "
                f"got {start_index}."
            )
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(
                f"{name}: `end_index` must be higher than `start_index`, "
                f"got start_index={start_index}, end_index={end_index}."
            )
        if end_index >= n:
            raise ValueError(
                f"{name}: `end_index` must be lower than the length of the data ({n}), "
                f"got {end_index}."
            )
        if end_index <= 0:
            raise ValueError(f"{name}: `end_index` must be higher than 0, got {end_index}.")
    for arg, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"{name}: `{arg}` must be higher than 0, got {value}.")
        if value >= n:
            raise ValueError(
                f"{name}: `{arg}` must be lower than the length of the data ({n}), got {value}."
            )


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """Sliding windows over `data` (time along axis 0), batched, with Keras 3's arguments.

    Window `k` holds `data[start_index + p_k + i * sampling_rate]` for `i < sequence_length`,
    where `p_k = k * sequence_stride`; its target is `targets[start_index + p_k]` (pass
    `targets=None` for windows only). `end_index` (exclusive) bounds the steps used.
    `shuffle=True` shuffles the windows once, with numpy's `RandomState(seed)` as Keras does
    (Keras then also shuffles within a tf.data buffer; that second shuffle is not reproduced).
    """
    data = np.asarray(data)
    _check_arguments(len(data), sequence_stride, sampling_rate, start_index, end_index)
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    count = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        count = min(count, len(targets))
    positions = np.arange(0, max(count, 0), sequence_stride)
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(positions)
    return TimeseriesDataset(
        data[start_index:end_index],
        None if targets is None else targets[start_index:end_index],
        positions,
        sequence_length,
        sampling_rate,
        batch_size,
    )
