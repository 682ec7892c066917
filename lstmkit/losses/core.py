"""Keras 3 losses as pure, jit-friendly JAX: per-sample functions, the reduction, Loss objects.

Keras 3's "sum_over_batch_size" divides the weighted sum by the number of loss values, *not* by
the sum of the weights; a mask divides by the number of unmasked values instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array
EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def match_rank(x1: Array, x2: Array, expand_rank_1: bool = True) -> tuple[Array, Array]:
    """Squeeze or expand a trailing size-1 axis when the ranks differ by one (Keras's rule)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = jnp.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def divide_no_nan(a: Array, b: Array) -> Array:
    """a / b, and 0 where b == 0 (safe under autodiff)."""
    safe = jnp.where(b == 0, jnp.ones_like(b), b)
    return jnp.where(b == 0, jnp.zeros_like(a / safe), a / safe)


def _as_float(y_true: Any, y_pred: Any) -> tuple[Array, Array]:
    y_pred = jnp.asarray(y_pred, jnp.float32)
    return jnp.asarray(y_true, y_pred.dtype), y_pred


# ---------------------------------------------------------------- per-sample functions


def _check_same_shape(loss: str, y_true: Array, y_pred: Array) -> None:
    if y_true.shape != y_pred.shape:
        hint = " (integer labels need the sparse_ loss)" if "categorical" in loss else ""
        raise ValueError(f"{loss}: y_true {y_true.shape} and y_pred {y_pred.shape} differ{hint}.")


def mean_squared_error(y_true: Array, y_pred: Array) -> Array:
    """mean((y_true - y_pred)**2, axis=-1)."""
    y_true, y_pred = match_rank(*_as_float(y_true, y_pred))
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true: Array, y_pred: Array) -> Array:
    """mean(|y_true - y_pred|, axis=-1)."""
    y_true, y_pred = match_rank(*_as_float(y_true, y_pred))
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def huber(y_true: Array, y_pred: Array, delta: float = 1.0) -> Array:
    """Quadratic within `delta` of the target, linear beyond; mean over the last axis."""
    y_true, y_pred = match_rank(*_as_float(y_true, y_pred))
    delta = jnp.asarray(delta, y_pred.dtype)
    err = y_pred - y_true
    abs_err = jnp.abs(err)
    values = jnp.where(abs_err <= delta, 0.5 * jnp.square(err), delta * abs_err - 0.5 * delta**2)
    return jnp.mean(values, axis=-1)


def binary_crossentropy(
    y_true: Array,
    y_pred: Array,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    """Elementwise BCE (probabilities clipped to [eps, 1-eps]), averaged over `axis`."""
    y_true, y_pred = _as_float(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    _check_same_shape("binary_crossentropy", y_true, y_pred)
    if from_logits:
        bce = -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(bce, axis=axis)


def _log_probs(y_pred: Array, from_logits: bool, axis: int) -> Array:
    """log of the class probabilities: log_softmax, or normalised and clipped probabilities."""
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(
    y_true: Array,
    y_pred: Array,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    """-sum(y_true * log p) over `axis`, labels one-hot (optionally smoothed)."""
    y_true, y_pred = _as_float(y_true, y_pred)
    if label_smoothing:
        num_classes = jnp.asarray(y_true.shape[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    _check_same_shape("categorical_crossentropy", y_true, y_pred)
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def _sparse_cce_and_mask(
    y_true: Array, y_pred: Array, from_logits: bool, ignore_class: int | None, axis: int
) -> tuple[Array, Array | None]:
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis)
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"sparse_categorical_crossentropy: y_true must have the shape of y_pred without its "
            f"class axis, got y_true {y_true.shape} and y_pred {y_pred.shape}."
        )
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class  # (batch, ...)
        y_true = jnp.where(valid, y_true, 0)
        # Ignored rows get a harmless uniform prediction; their values are zeroed below.
        y_pred = jnp.where(jnp.expand_dims(valid, axis), y_pred, jnp.ones_like(y_pred))
    labels = y_true.astype(jnp.int32)
    log_p = _log_probs(y_pred, from_logits, axis)
    one_hot = jax.nn.one_hot(labels, y_pred.shape[axis], axis=axis, dtype=log_p.dtype)
    values = -jnp.sum(one_hot * log_p, axis=axis)
    if valid is not None:
        values = jnp.where(valid, values, 0.0)
    return values, valid


def sparse_categorical_crossentropy(
    y_true: Array,
    y_pred: Array,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Array:
    """Categorical crossentropy with integer labels; `ignore_class` entries give 0."""
    return _sparse_cce_and_mask(y_true, y_pred, from_logits, ignore_class, axis)[0]


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = BCE = binary_crossentropy


# ---------------------------------------------------------------- reduction


def _align_weight(weight: Array, values: Array) -> Array:
    """Keras's rank matching, then trailing axes: (batch,) weights broadcast over (batch, t)."""
    values, weight = match_rank(values, weight)
    if 0 < weight.ndim < values.ndim:
        weight = weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim))
    return weight


def reduce_weighted_values(
    values: Array,
    sample_weight: Array | None = None,
    mask: Array | None = None,
    reduction: str | None = "sum_over_batch_size",
) -> Array:
    """Weight per-sample loss values by `sample_weight` and `mask`, then reduce like Keras 3."""
    values = jnp.asarray(values, jnp.float32)
    if mask is not None:
        mask = jnp.asarray(mask, bool)
        if reduction in ("mean", "sum_over_batch_size"):
            # Valid entries weigh total/valid: the sum then divides by the valid count.
            total = jnp.asarray(mask.size, values.dtype)
            scale = divide_no_nan(total, jnp.sum(mask.astype(values.dtype)))
            float_mask = jnp.where(mask, scale, 0.0).astype(values.dtype)
        else:
            float_mask = mask.astype(values.dtype)
        if sample_weight is None:
            sample_weight = float_mask
        else:
            sample_weight = jnp.asarray(sample_weight, values.dtype)
            float_mask, sample_weight = match_rank(float_mask, sample_weight)
            sample_weight = _align_weight(sample_weight, float_mask) * float_mask
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight, values.dtype)
        values, sample_weight = match_rank(values, sample_weight)
        values = values * _align_weight(sample_weight, values)
    if reduction in (None, "none") or values.ndim == 0:
        return values
    loss = jnp.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(loss, jnp.sum(sample_weight))
    return divide_no_nan(loss, jnp.asarray(values.size, loss.dtype))


# ---------------------------------------------------------------- Loss objects


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base loss: `per_sample` gives the unreduced values, calling reduces them to a scalar."""

    config_keys: tuple[str, ...] = ()  # constructor options stored in the config

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid reduction {reduction!r}; expected one of {REDUCTIONS}.")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true: Array, y_pred: Array) -> Array:
        """Per-sample values of rank-matched inputs; subclasses implement this."""
        raise NotImplementedError

    def values_and_mask(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        """Per-sample values and the mask the loss itself makes (ignore_class), or None."""
        return self.call(*match_rank(jnp.asarray(y_true), jnp.asarray(y_pred))), None

    def per_sample(self, y_true: Array, y_pred: Array) -> Array:
        """The unreduced loss values (the last axis reduced)."""
        return self.values_and_mask(*_as_float(y_true, y_pred))[0]

    def __call__(
        self,
        y_true: Array,
        y_pred: Array,
        sample_weight: Array | None = None,
        mask: Array | None = None,
    ) -> Array:
        """Scalar loss; `mask` is the output mask Keras attaches to y_pred (e.g. mask_zero)."""
        values, loss_mask = self.values_and_mask(*_as_float(y_true, y_pred))
        if loss_mask is not None:
            mask = loss_mask if mask is None else jnp.asarray(mask, bool) & loss_mask
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def get_config(self) -> dict:
        config = {"name": self.name, "reduction": self.reduction}
        return {**config, **{key: getattr(self, key) for key in self.config_keys}}

    @classmethod
    def from_config(cls, config: dict) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.get_config()}>"


class LossFunctionWrapper(Loss):
    """A loss object around a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn: Callable, reduction="sum_over_batch_size", name=None, dtype=None, **kw):
        super().__init__(name or _snake(fn.__name__), reduction)
        self.fn, self.fn_kwargs = fn, kw

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), "fn": serialize_function(self.fn), **self.fn_kwargs}


class MeanSquaredError(Loss):
    """Mean of squared errors over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction)

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors over the last axis."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name, reduction)

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return mean_absolute_error(y_true, y_pred)


class Huber(Loss):
    """Huber loss (Keras omits `delta` from its config; it is kept here so it round-trips)."""

    config_keys = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name, reduction)
        self.delta = delta

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return huber(y_true, y_pred, self.delta)


class BinaryCrossentropy(Loss):
    """BCE; `label_smoothing` pulls the labels towards 0.5."""

    config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(name, reduction)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true: Array, y_pred: Array) -> Array:
        return binary_crossentropy(y_true, y_pred, *(getattr(self, k) for k in self.config_keys))


class CategoricalCrossentropy(Loss):
    """CCE on one-hot labels; smoothing gives 1 - ls + ls/C to the target class."""

    config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name, reduction)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true: Array, y_pred: Array) -> Array:
        options = (getattr(self, k) for k in self.config_keys)
        return categorical_crossentropy(y_true, y_pred, *options)


class SparseCategoricalCrossentropy(Loss):
    """CCE on integer labels; `ignore_class` labels are masked out of the mean."""

    config_keys = ("from_logits", "ignore_class")

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction="sum_over_batch_size",
        axis: int = -1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name, reduction)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def values_and_mask(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        y_true, y_pred = match_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
        return _sparse_cce_and_mask(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)


def serialize_function(fn: Callable) -> dict:
    """Keras 3's serialized form of a plain loss function."""
    return {"module": "builtins", "class_name": "function", "config": fn.__name__,
            "registered_name": "function"}  # fmt: skip
