"""Keras 3 metrics as pure, jit-friendly JAX: state is a pytree, updates are pure functions.

    state = metric.init()
    state = metric.update(state, y_true, y_pred, sample_weight)   # inside jax.jit
    value = metric.result(state)

`update_state` / `result()` / `reset_state` do the same on state the object keeps (eager use).
Most metrics are the running weighted mean of per-sample `values(y_true, y_pred)`, like Keras's
MeanMetricWrapper; AUC keeps confusion counts at fixed thresholds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit.losses.core import (
    EPSILON,
    divide_no_nan,
    match_rank,
    mean_absolute_error,
    mean_squared_error,
)

Array = jax.Array
State = dict[str, Array]


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def reduce_to_samplewise(values: Array, sample_weight: Array | None) -> tuple[Array, Array | None]:
    """Keras's reduction of values (and weights) to one value per sample, weights applied."""
    values = jnp.asarray(values, jnp.float32)
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight, jnp.float32)
        values, sample_weight = match_rank(values, sample_weight)
        w_ndim = sample_weight.ndim
        if values.ndim > w_ndim:  # average the axes the weights don't cover
            values = jnp.mean(values, axis=tuple(range(w_ndim, values.ndim)))
        sample_weight = jnp.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = jnp.mean(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = jnp.mean(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


def accumulate_mean(state: State, values: Array, sample_weight: Array | None = None) -> State:
    """Add (weighted) values to a {"total", "count"} state, as keras.metrics.Mean does."""
    values, sample_weight = reduce_to_samplewise(values, sample_weight)
    if sample_weight is not None:
        count = jnp.sum(sample_weight)
    else:
        count = jnp.asarray(values.shape[0] if values.ndim >= 1 else 1, jnp.float32)
    return {"total": state["total"] + jnp.sum(values), "count": state["count"] + count}


def _masked_weight(sample_weight: Array | None, mask: Array | None) -> Array | None:
    """Fold an output mask into the sample weights (Keras's "sum" mask rule for metrics)."""
    if mask is None:
        return sample_weight
    mask = jnp.asarray(mask, jnp.float32)
    if sample_weight is None:
        return mask
    mask, sample_weight = match_rank(mask, jnp.asarray(sample_weight, jnp.float32))
    if 0 < sample_weight.ndim < mask.ndim:
        sample_weight = sample_weight.reshape(sample_weight.shape + (1,) * (mask.ndim - 1))
    return sample_weight * mask


class Metric:
    """A running weighted mean of per-sample `values(y_true, y_pred)`; subclasses define values.

    Metrics with other state (AUC) override `init`, `update` and `result`.
    """

    config_keys: tuple[str, ...] = ()  # constructor options stored in the config

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = name or _snake(type(self).__name__)
        self._state: State | None = None

    def values(self, y_true: Array, y_pred: Array) -> Array:
        """One value per sample (or per sample and time step)."""
        raise NotImplementedError

    def init(self) -> State:
        """A fresh state pytree."""
        return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}

    def update(
        self,
        state: State,
        y_true: Array,
        y_pred: Array,
        sample_weight: Array | None = None,
        mask: Array | None = None,
    ) -> State:
        """Pure update; `mask` is the output mask Keras would attach to y_pred."""
        values = self.values(y_true, y_pred)
        return accumulate_mean(state, values, _masked_weight(sample_weight, mask))

    def result(self, state: State | None = None) -> Array:
        """The metric value of `state` (of the object's own state when omitted)."""
        state = self._own_state() if state is None else state
        return divide_no_nan(state["total"], state["count"])

    # eager, Keras-style convenience on state the object keeps
    def _own_state(self) -> State:
        if self._state is None:
            self._state = self.init()
        return self._state

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Eager update of the object's own state (same arguments as `update` after `state`)."""
        self._state = self.update(self._own_state(), *args, **kwargs)

    def reset_state(self) -> None:
        self._state = self.init()

    def get_config(self) -> dict:
        config = {"name": self.name, "dtype": "float32"}
        return {**config, **{key: getattr(self, key) for key in self.config_keys}}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """Weighted mean of the values given; the trainer's running loss is one of these."""

    def update(self, state: State, values: Array, sample_weight: Array | None = None) -> State:
        """Pure update with raw values (Keras's Mean.update_state(values, sample_weight))."""
        return accumulate_mean(state, values, sample_weight)


class MeanMetricWrapper(Metric):
    """The running mean of a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None, **kwargs: Any):
        super().__init__(name or _snake(fn.__name__))
        self.fn, self.fn_kwargs = fn, kwargs

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return self.fn(y_true, y_pred, **self.fn_kwargs)


# ---------------------------------------------------------------- per-sample metric functions


def accuracy(y_true: Array, y_pred: Array) -> Array:
    """1.0 where y_pred equals y_true exactly."""
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true, y_pred = match_rank(jnp.asarray(y_true, y_pred.dtype), y_pred)
    return (y_true == y_pred).astype(jnp.float32)


def binary_accuracy(y_true: Array, y_pred: Array, threshold: float = 0.5) -> Array:
    """1.0 where (y_pred > threshold) equals y_true."""
    y_true, y_pred = match_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(jnp.float32)


def categorical_accuracy(y_true: Array, y_pred: Array) -> Array:
    """1.0 where argmax(y_pred) equals argmax(one-hot y_true)."""
    return (jnp.argmax(y_true, axis=-1) == jnp.argmax(y_pred, axis=-1)).astype(jnp.float32)


def sparse_categorical_accuracy(y_true: Array, y_pred: Array) -> Array:
    """1.0 where argmax(y_pred) equals the integer label."""
    y_pred = jnp.asarray(y_pred, jnp.float32)
    y_true = jnp.asarray(y_true, y_pred.dtype)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    return (y_true == jnp.argmax(y_pred, axis=-1).astype(y_true.dtype)).astype(jnp.float32)


class Accuracy(Metric):
    """How often y_pred equals y_true."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return accuracy(y_true, y_pred)


class BinaryAccuracy(Metric):
    """How often (y_pred > threshold) equals the 0/1 label."""

    config_keys = ("threshold",)

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        super().__init__(name)
        self.threshold = threshold

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return binary_accuracy(y_true, y_pred, self.threshold)


class CategoricalAccuracy(Metric):
    """How often argmax(y_pred) matches one-hot labels."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return categorical_accuracy(y_true, y_pred)


class SparseCategoricalAccuracy(Metric):
    """How often argmax(y_pred) matches integer labels."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return sparse_categorical_accuracy(y_true, y_pred)


class MeanSquaredError(Metric):
    """Running mean of the per-sample mean squared error."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Metric):
    """Running mean of the per-sample mean absolute error."""

    def values(self, y_true: Array, y_pred: Array) -> Array:
        return mean_absolute_error(y_true, y_pred)


# ---------------------------------------------------------------- AUC


class AUC(Metric):
    """Area under the ROC or PR curve from confusion counts at `num_thresholds` thresholds.

    As in Keras: thresholds i/(n-1) for i in 1..n-2 plus -eps and 1+eps; predictions are
    bucketed by ceil(p*(n-1))-1, labels are binarised (nonzero = positive).
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: list[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ):
        super().__init__(name or "auc")
        if multi_label or label_weights is not None:
            raise ValueError("AUC: multi_label and label_weights are not supported by lstmkit.")
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}.")
        if summation_method.lower() not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: unknown summation_method {summation_method!r}.")
        self.curve, self.summation_method = curve.upper(), summation_method.lower()
        self.from_logits, self._given_thresholds = from_logits, thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            ends = np.array([0.0] + inner + [1.0])
            even = np.arange(len(ends), dtype=np.float32) / (len(ends) - 1)
            self._evenly = len(ends) >= 3 and np.allclose(ends, even, atol=EPSILON)
        else:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}.")
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self.num_thresholds = len(inner) + 2
        self.thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]

    def init(self) -> State:
        zeros = jnp.zeros((self.num_thresholds,), jnp.float32)
        return {"true_positives": zeros, "false_positives": zeros,
                "true_negatives": zeros, "false_negatives": zeros}  # fmt: skip

    def update(
        self,
        state: State,
        y_true: Array,
        y_pred: Array,
        sample_weight: Array | None = None,
        mask: Array | None = None,
    ) -> State:
        """Pure update of the four confusion-count vectors; `mask` is ignored, as in Keras."""
        y_pred = jnp.asarray(y_pred, jnp.float32)
        y_pred = jax.nn.sigmoid(y_pred) if self.from_logits else y_pred
        y_pred, y_true = match_rank(y_pred, jnp.asarray(y_true, jnp.float32))
        weights = 1.0
        if sample_weight is not None:
            sw = jnp.asarray(sample_weight, jnp.float32)[..., None]
            _, sw = match_rank(y_true, sw, expand_rank_1=False)
            weights = jnp.broadcast_to(sw, y_pred.shape).reshape(-1)
        positive = (y_true != 0).astype(jnp.float32).reshape(-1)
        y_pred = y_pred.reshape(-1)
        true_w, false_w = positive * weights, (1.0 - positive) * weights  # (n,)
        n = self.num_thresholds
        if self._evenly:
            bucket = jnp.ceil(jnp.clip(y_pred, 0.0, 1.0) * (n - 1)) - 1
            bucket = jnp.maximum(bucket, 0).astype(jnp.int32)  # (n,) bucket per prediction
            tp_bucket = jax.ops.segment_sum(true_w, bucket, num_segments=n)
            fp_bucket = jax.ops.segment_sum(false_w, bucket, num_segments=n)
            tp = jnp.cumsum(tp_bucket[::-1])[::-1]  # count with prediction above threshold i
            fp = jnp.cumsum(fp_bucket[::-1])[::-1]
        else:
            above = y_pred[None, :] > jnp.asarray(self.thresholds, jnp.float32)[:, None]
            tp = jnp.sum(jnp.where(above, true_w, 0.0), axis=1)  # (thresholds,)
            fp = jnp.sum(jnp.where(above, false_w, 0.0), axis=1)
        return {
            "true_positives": state["true_positives"] + tp,
            "false_positives": state["false_positives"] + fp,
            "true_negatives": state["true_negatives"] + (jnp.sum(false_w) - fp),
            "false_negatives": state["false_negatives"] + (jnp.sum(true_w) - tp),
        }

    def result(self, state: State | None = None) -> Array:
        state = self._own_state() if state is None else state
        tp, fp = state["true_positives"], state["false_positives"]
        tn, fn = state["true_negatives"], state["false_negatives"]
        if self.curve == "PR" and self.summation_method == "interpolation":
            return _interpolated_pr_auc(tp, fp, fn)
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:-1], y[1:])
        else:
            heights = jnp.maximum(y[:-1], y[1:])
        return jnp.sum((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": False,
            "num_labels": None,
            "label_weights": None,
            "from_logits": self.from_logits,
        }
        if self._given_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _interpolated_pr_auc(tp: Array, fp: Array, fn: Array) -> Array:
    """PR-AUC with precision interpolated between thresholds (Davis & Goadrich, 2006)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    slope = divide_no_nan(dtp, jnp.maximum(dp, 0))
    intercept = tp[1:] - slope * p[1:]
    both = (p[:-1] > 0) & (p[1:] > 0)
    ratio = jnp.where(both, divide_no_nan(p[:-1], jnp.maximum(p[1:], 0)), jnp.ones_like(p[1:]))
    increments = divide_no_nan(
        slope * (dtp + intercept * jnp.log(ratio)), jnp.maximum(tp[1:] + fn[1:], 0)
    )
    return jnp.sum(increments)
