"""The callback protocol: `Callback` (every hook a no-op) and `pythonify_logs`.

Callbacks see the model only through a duck-typed interface: ``model.stop_training`` (bool),
``model.get_weights()`` / ``model.set_weights(list)``, ``model.save(path)``,
``model.save_weights(path)`` and ``model.optimizer.learning_rate`` (a settable variable).
"""

from __future__ import annotations

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
