"""LambdaCallback: a callback made of plain functions, as Keras 3's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lstmkit.callbacks.callback import Callback


class LambdaCallback(Callback):
    """Each given function replaces that hook: `on_epoch_begin(epoch, logs)`,
    `on_epoch_end(epoch, logs)`, `on_train_begin(logs)`, `on_train_end(logs)`,
    `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)`, and any other hook
    by keyword (`on_batch_end=`, `on_test_end=`, ...), as Keras."""

    def __init__(
        self,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_train_begin: Callable | None = None,
        on_train_end: Callable | None = None,
        on_train_batch_begin: Callable | None = None,
        on_train_batch_end: Callable | None = None,
        **kwargs: Any,
    ):
        super().__init__()
        self.__dict__.update(kwargs)  # as Keras: any keyword becomes an attribute (a hook)
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
