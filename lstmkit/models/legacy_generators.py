"""Keras 2's `fit_generator`, `evaluate_generator` and `predict_generator`, kept for tutorials.

Keras 3 removed them (its `fit` takes generators and PyDatasets); here each warns once per call
and runs `fit` / `evaluate` / `predict`. Keras 2's `workers`, `use_multiprocessing` and
`max_queue_size` arguments are set on a PyDataset (Keras 3 reads them there); a plain generator
is read in the calling thread, as Keras 3 does.
"""

from __future__ import annotations

import warnings
from typing import Any

from lstmkit.models import training_api
from lstmkit.utils.py_dataset import PyDataset


def _deprecated(model: Any, old: str, new: str) -> None:
    warnings.warn(
        f"Model '{model.name}': `{old}` is a legacy (Keras 2) method; use `{new}`, which takes "
        "generators and PyDatasets, instead.",
        DeprecationWarning,
        stacklevel=3,
    )


def _pool_settings(data: Any, workers: int, use_multiprocessing: bool, max_queue_size: int) -> None:
    if isinstance(data, PyDataset) and (workers != 1 or use_multiprocessing):
        data.workers, data.use_multiprocessing = workers, use_multiprocessing
        data.max_queue_size = max_queue_size


def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                  validation_data=None, validation_steps=None, validation_freq=1,
                  class_weight=None, max_queue_size=10, workers=1, use_multiprocessing=False,
                  shuffle=True, initial_epoch=0):  # fmt: skip
    """Keras 2's `model.fit_generator(...)`: `model.fit(generator, ...)`."""
    _deprecated(self, "fit_generator", "fit")
    _pool_settings(generator, workers, use_multiprocessing, max_queue_size)
    return training_api.fit(
        self, generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
        initial_epoch=initial_epoch,
    )  # fmt: skip


def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                       use_multiprocessing=False, verbose=0):  # fmt: skip
    """Keras 2's `model.evaluate_generator(...)`: `model.evaluate(generator, ...)`."""
    _deprecated(self, "evaluate_generator", "evaluate")
    _pool_settings(generator, workers, use_multiprocessing, max_queue_size)
    return training_api.evaluate(self, generator, steps=steps, callbacks=callbacks,
                                 verbose=verbose)  # fmt: skip


def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                      use_multiprocessing=False, verbose=0):  # fmt: skip
    """Keras 2's `model.predict_generator(...)`: `model.predict(generator, ...)`."""
    _deprecated(self, "predict_generator", "predict")
    _pool_settings(generator, workers, use_multiprocessing, max_queue_size)
    return training_api.predict(self, generator, steps=steps, callbacks=callbacks,
                                verbose=verbose)  # fmt: skip
