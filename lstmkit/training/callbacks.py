"""Keras 3 callbacks: the hook protocol, CallbackList, History, LearningRateScheduler,
TerminateOnNaN, CSVLogger. Those that watch a monitored metric (EarlyStopping,
ReduceLROnPlateau, ModelCheckpoint) are in `monitor_callbacks`.

Callbacks see the model only through a duck-typed interface: ``model.stop_training`` (bool),
``model.get_weights()`` / ``model.set_weights(list)``, ``model.save(path)``,
``model.save_weights(path)`` and ``model.optimizer.learning_rate`` (a settable float).
"""

from __future__ import annotations

import collections
import collections.abc
import csv
import math
import os
from typing import Any

import numpy as np


class Callback:
    """Base class: every hook is a no-op; the trainer calls them with Keras's names."""

    def __init__(self) -> None:
        self.params: dict | None = None
        self.model: Any = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Legacy alias: called by the default on_train_batch_begin."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Legacy alias: called by the default on_train_batch_end."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...

    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...

    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_test_begin(self, logs: dict | None = None) -> None: ...

    def on_test_end(self, logs: dict | None = None) -> None: ...

    def on_predict_begin(self, logs: dict | None = None) -> None: ...

    def on_predict_end(self, logs: dict | None = None) -> None: ...


def pythonify_logs(logs: dict | None) -> dict:
    """Logs as Keras hands them to callbacks: nested dicts flattened, keys sorted, values floats."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        try:
            value = float(np.asarray(value))
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


_HOOKS_WITH_INDEX = (
    "on_batch_begin",
    "on_batch_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
_HOOKS = tuple(
    f"on_{stage}_{edge}" for stage in ("train", "test", "predict") for edge in ("begin", "end")
)


class CallbackList(Callback):
    """Calls every callback's hook in order, with the same (pythonified) logs dict.

    With ``add_history`` / ``add_progbar`` a History and a ProgbarLogger are appended unless the
    list has them; ``params`` (e.g. ``verbose``, ``epochs``, ``steps``) go to every callback.
    """

    def __init__(
        self,
        callbacks: list | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ):
        super().__init__()
        self.callbacks: list[Callback] = list(callbacks) if callbacks else []
        from lstmkit.training.progress import ProgbarLogger  # progress imports this module

        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        self.set_model(model)
        self.set_params(params)

    @property
    def history(self) -> History | None:
        return self._history

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model: Any) -> None:
        if model is None:
            return
        self.model = model
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def _call(self, hook: str, *args: Any, logs: dict | None = None) -> None:
        logs = pythonify_logs(logs)
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs)


def _make_hook(hook: str, with_index: bool):
    if with_index:

        def method(self, index: int, logs: dict | None = None) -> None:
            self._call(hook, index, logs=logs)
    else:

        def method(self, logs: dict | None = None) -> None:
            self._call(hook, logs=logs)

    method.__name__ = hook
    method.__doc__ = f"Calls ``{hook}`` on every callback."
    return method


for _hook in _HOOKS_WITH_INDEX:
    setattr(CallbackList, _hook, _make_hook(_hook, True))
for _hook in _HOOKS:
    setattr(CallbackList, _hook, _make_hook(_hook, False))


class History(Callback):
    """Records every epoch's logs: ``history`` (key -> list), ``epoch`` (indices), ``params``."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


class LearningRateScheduler(Callback):
    """Sets the learning rate at each epoch's start to ``schedule(epoch, lr)`` (or ``(epoch)``)."""

    def __init__(self, schedule: Any, verbose: int = 0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the older one-argument form
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {learning_rate}"
            )
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite.

    ``stopped_at`` is then ``(epoch, batch)``; with ``raise_error=True`` a RuntimeError is raised.
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error
        self.stopped_at: tuple[int, int] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.stopped_at = (self._epoch, batch)
        self.model.stop_training = True


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: an ``epoch`` column, then the sorted log keys.

    As Keras: the columns are fixed by the first epoch (``val_`` twins are added if no
    validation key is there yet, filled with ``NA``), and rows end in ``\\r\\n``.
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer: csv.DictWriter | None = None
        self.keys: list[str] | None = None
        self.append_header = True
        self.csv_file: Any = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)  # closed at on_train_end
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if self.writer is None:
            dialect = type("_Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, _csv_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return f'"[{", ".join(map(str, value))}]"'
    return value
