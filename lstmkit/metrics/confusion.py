"""Keras 3's thresholded confusion metrics: Precision, Recall and the four counts
(TruePositives, FalsePositives, TrueNegatives, FalseNegatives), as a classifier's
`metrics=[keras.metrics.Precision(), keras.metrics.Recall()]` uses them.

A prediction counts as positive when it is above a threshold (0.5 by default; one result per
threshold when several are given); labels are positive when nonzero. `class_id` looks at one
class, `top_k` keeps only each sample's k largest predictions, as Keras does.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit.losses.core import divide_no_nan, match_rank
from lstmkit.metrics.core import Metric, State

Array = jax.Array
NEG_INF = -1e10  # Keras's stand-in for -inf (top_k's default threshold and masked predictions)
COUNTS = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def _thresholds(thresholds: Any, default: float) -> list[float]:
    if thresholds is not None:
        given = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
        invalid = [t for t in given if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
        return [float(t) for t in given]
    return [default]


def _evenly_spaced(thresholds: list[float]) -> bool:
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=1e-7)


def _top_k_only(y_pred: Array, k: int) -> Array:
    """Each sample's k largest predictions kept, the others set to NEG_INF (Keras's rule)."""
    _, index = jax.lax.top_k(y_pred, k)  # (..., k)
    keep = jnp.sum(jax.nn.one_hot(index, y_pred.shape[-1], dtype=y_pred.dtype), axis=-2)
    return y_pred * keep + NEG_INF * (1 - keep)


class _Confusion(Metric):
    """Weighted confusion counts at each threshold; subclasses name what they report."""

    counts: tuple[str, ...] = COUNTS

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None):  # fmt: skip
        super().__init__(name, dtype)
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        self.thresholds = _thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = _evenly_spaced(self.thresholds)

    def init(self) -> State:
        return {key: jnp.zeros((len(self.thresholds),), jnp.float32) for key in self.counts}

    def update(self, state: State, y_true: Array, y_pred: Array,
               sample_weight: Array | None = None, mask: Array | None = None) -> State:  # fmt: skip
        """Add this batch's counts (`mask` is ignored, as Keras's confusion metrics do)."""
        y_pred, y_true = match_rank(jnp.asarray(y_pred, jnp.float32),
                                    jnp.asarray(y_true, jnp.float32))  # fmt: skip
        weights = 1.0
        if sample_weight is not None:
            sw = jnp.asarray(sample_weight, jnp.float32)[..., None]
            _, sw = match_rank(y_true, sw, expand_rank_1=False)
            weights = sw
        if self.top_k is not None:
            y_pred = _top_k_only(y_pred, self.top_k)
        if self.class_id is not None:
            if y_pred.ndim == 1:
                raise ValueError(
                    "When class_id is provided, y_pred must be a 2D array with shape "
                    f"(num_samples, num_classes), found shape: {y_pred.shape}"
                )
            y_true = y_true[..., self.class_id, None]
            y_pred = y_pred[..., self.class_id, None]
        weights = jnp.broadcast_to(weights, y_pred.shape).reshape(-1)  # (n,)
        if self._evenly:  # Keras's bucketed path clips the predictions first
            y_pred = jnp.clip(y_pred, 0.0, 1.0)
        positive = (y_true != 0).reshape(-1)  # (n,)
        above = y_pred.reshape(1, -1) > jnp.asarray(self.thresholds, jnp.float32)[:, None]
        cases = {
            "true_positives": positive & above,
            "false_positives": ~positive & above,
            "true_negatives": ~positive & ~above,
            "false_negatives": positive & ~above,
        }
        return {key: state[key] + jnp.sum(jnp.where(cases[key], weights, 0.0), axis=1)
                for key in self.counts}  # fmt: skip

    def _value(self, state: State) -> Array:
        raise NotImplementedError

    def result(self, state: State | None = None) -> Array:
        value = self._value(self._own_state() if state is None else state)
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self) -> dict:
        config = {"name": self.name, "dtype": "float32", "thresholds": self.init_thresholds}
        return {**config, "top_k": self.top_k, "class_id": self.class_id}


class Precision(_Confusion):
    """true_positives / (true_positives + false_positives) at each threshold."""

    counts = ("true_positives", "false_positives")

    def _value(self, state: State) -> Array:
        tp = state["true_positives"]
        return divide_no_nan(tp, tp + state["false_positives"])


class Recall(_Confusion):
    """true_positives / (true_positives + false_negatives) at each threshold."""

    counts = ("true_positives", "false_negatives")

    def _value(self, state: State) -> Array:
        tp = state["true_positives"]
        return divide_no_nan(tp, tp + state["false_negatives"])


class _Count(_Confusion):
    """One weighted count at each threshold (Keras's `thresholds`-only constructor)."""

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None):
        super().__init__(thresholds, name=name, dtype=dtype)

    def _value(self, state: State) -> Array:
        return state[self.counts[0]]

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": "float32", "thresholds": self.init_thresholds}


class TruePositives(_Count):
    counts = ("true_positives",)


class FalsePositives(_Count):
    counts = ("false_positives",)


class TrueNegatives(_Count):
    counts = ("true_negatives",)


class FalseNegatives(_Count):
    counts = ("false_negatives",)
