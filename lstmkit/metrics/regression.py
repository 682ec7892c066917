"""Keras 3's regression metrics beyond MSE and MAE: root mean squared error (the usual
forecasting metric), mean absolute percentage error, mean squared logarithmic error."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lstmkit.losses.core import _as_float, divide_no_nan, match_rank
from lstmkit.losses.regression import (
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
)
from lstmkit.metrics.core import Metric, State

Array = jax.Array


class RootMeanSquaredError(Metric):
    """sqrt of the running weighted mean of squared errors (Keras averages the elementwise
    squares, so weights of y's full rank apply per element)."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        y_true, y_pred = match_rank(*_as_float(y_true, y_pred))
        return jnp.square(y_pred - y_true)  # (batch, ...): reduced per sample by the mean

    def result(self, state: State | None = None) -> Array:
        state = self._own_state() if state is None else state
        return jnp.sqrt(divide_no_nan(state["total"], state["count"]))


class MeanAbsolutePercentageError(Metric):
    """Running mean of the per-sample mean absolute percentage error."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return mean_absolute_percentage_error(y_true, y_pred)


class MeanSquaredLogarithmicError(Metric):
    """Running mean of the per-sample mean squared logarithmic error."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return mean_squared_logarithmic_error(y_true, y_pred)
