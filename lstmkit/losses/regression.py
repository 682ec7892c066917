"""Keras 3's percentage and logarithmic regression losses (forecasting tutorials' "mape",
"msle"): the per-sample functions and their Loss classes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lstmkit.losses.core import EPSILON, Loss, _as_float, match_rank

Array = jax.Array


def mean_absolute_percentage_error(y_true: Array, y_pred: Array) -> Array:
    """100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|, axis=-1)."""
    y_true, y_pred = match_rank(*_as_float(y_true, y_pred))
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), EPSILON))  # (..., d)
    return 100.0 * jnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true: Array, y_pred: Array) -> Array:
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)."""
    y_true, y_pred = match_rank(*_as_float(y_true, y_pred))
    first_log = jnp.log(jnp.maximum(y_pred, EPSILON) + 1.0)
    second_log = jnp.log(jnp.maximum(y_true, EPSILON) + 1.0)
    return jnp.mean(jnp.square(first_log - second_log), axis=-1)


mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error


class MeanAbsolutePercentageError(Loss):
    """Mean absolute percentage error over the last axis."""

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None
    ):
        super().__init__(name, reduction)

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return mean_absolute_percentage_error(y_true, y_pred)


class MeanSquaredLogarithmicError(Loss):
    """Mean squared logarithmic error over the last axis."""

    def __init__(
        self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None
    ):
        super().__init__(name, reduction)

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return mean_squared_logarithmic_error(y_true, y_pred)
