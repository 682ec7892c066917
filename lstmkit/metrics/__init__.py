"""Public metrics, as `keras.metrics`: the classes, `get`, `serialize`, `deserialize`.

The metrics themselves live in `lstmkit.metrics.core`; this module adds the name lookup of
`compile`, including Keras 3's choice of accuracy variant for "accuracy"/"acc".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lstmkit import catalogue as _catalogue
from lstmkit import registry
from lstmkit.losses.core import (
    BinaryCrossentropy as _BCELoss,
)
from lstmkit.losses.core import (
    LossFunctionWrapper,
    binary_crossentropy,
    mean_absolute_error,
    mean_squared_error,
    serialize_function,
    sparse_categorical_crossentropy,
)
from lstmkit.losses.core import (
    SparseCategoricalCrossentropy as _SCCELoss,
)
from lstmkit.losses.regression import (
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
)
from lstmkit.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from lstmkit.metrics.core import (
    AUC,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    Mean,
    MeanAbsoluteError,
    MeanMetricWrapper,
    MeanSquaredError,
    Metric,
    SparseCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
)
from lstmkit.metrics.regression import (
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
)

__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "Mean", "MeanAbsoluteError",
    "MeanMetricWrapper", "MeanSquaredError", "Metric", "SparseCategoricalAccuracy", "accuracy",
    "accuracy_class", "binary_accuracy", "categorical_accuracy", "deserialize", "get",
    "serialize", "sparse_categorical_accuracy",
]  # fmt: skip
# Regression metrics, and Keras's per-sample functions under keras.metrics too
__all__ += ["MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "RootMeanSquaredError",
            "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
            "mean_squared_logarithmic_error"]  # fmt: skip
__all__ += ["FalseNegatives", "FalsePositives", "Precision", "Recall", "TrueNegatives",
            "TruePositives"]  # fmt: skip

METRIC_CLASSES: dict[str, type[Metric]] = {
    c.__name__: c
    for c in (
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        MeanSquaredError,
        MeanAbsoluteError,
        AUC,
        Mean,
        RootMeanSquaredError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Precision,
        Recall,
        TruePositives,
        FalsePositives,
        TrueNegatives,
        FalseNegatives,
    )
}
# Keras 3 looks names up among class names, their snake_case forms and a few aliases.
METRIC_NAMES: dict[str, type[Metric]] = {
    **METRIC_CLASSES,
    "accuracy": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "auc": AUC,
    "mean": Mean,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "root_mean_squared_error": RootMeanSquaredError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "precision": Precision,
    "recall": Recall,
    "true_positives": TruePositives,
    "false_positives": FalsePositives,
    "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
}
METRIC_FUNCTIONS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
    )  # fmt: skip
}


def _loss_kind(loss: Any) -> str | None:
    """'binary', 'sparse' or None for a loss given as a name, object or function."""
    if isinstance(loss, LossFunctionWrapper):
        loss = loss.fn
    binary_names = ("binary_crossentropy", "bce", "BCE", "BinaryCrossentropy")
    if isinstance(loss, _BCELoss) or loss is binary_crossentropy or loss in binary_names:
        return "binary"
    sparse_names = ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy")
    if (
        isinstance(loss, _SCCELoss)
        or loss is sparse_categorical_crossentropy
        or loss in sparse_names
    ):
        return "sparse"
    return None


def accuracy_class(
    loss: Any = None, y_shape: tuple | None = None, y_pred_shape: tuple | None = None
) -> type[Metric]:
    """The accuracy class Keras 3's compile picks for "accuracy"/"acc".

    Keras decides by shapes alone: binary when y_pred's last dim is 1; sparse when y_true has
    lower rank than y_pred, or its last dim is 1 while y_pred's is > 1; categorical otherwise.
    Without shapes, the loss decides (binary / sparse crossentropy), else categorical.
    """
    if y_shape is not None and y_pred_shape is not None:
        y_shape, y_pred_shape = tuple(y_shape), tuple(y_pred_shape)
        if y_pred_shape[-1] == 1:
            return BinaryAccuracy
        if len(y_shape) < len(y_pred_shape) or (y_shape[-1] == 1 and y_pred_shape[-1] > 1):
            return SparseCategoricalAccuracy
        return CategoricalAccuracy
    if loss is None:
        raise ValueError(
            "Metric 'accuracy' needs y_shape and y_pred_shape (or the loss) to choose between "
            "binary, categorical and sparse categorical accuracy."
        )
    kinds = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy}
    return kinds.get(_loss_kind(loss), CategoricalAccuracy)


def _special(identifier: Any, context: dict) -> Any:
    """None, "accuracy"/"acc" (decided by the shapes or the loss), and function dicts."""
    if identifier is None:
        raise ValueError("Expected a metric, got None.")
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        loss, y_shape, y_pred_shape = (context.get(k) for k in ("loss", "y_shape", "y_pred_shape"))
        return accuracy_class(loss, y_shape, y_pred_shape)(name=identifier)
    if not isinstance(identifier, dict):
        return registry.PASS
    class_name, inner = identifier.get("class_name"), identifier.get("config") or {}
    if class_name == "function" and inner in METRIC_FUNCTIONS:
        return MeanMetricWrapper(METRIC_FUNCTIONS[inner])
    if class_name == "MeanMetricWrapper":
        inner = dict(inner)
        fn = inner.pop("fn")
        fn_name = fn["config"] if isinstance(fn, dict) else fn
        if fn_name in METRIC_FUNCTIONS:
            return MeanMetricWrapper(METRIC_FUNCTIONS[fn_name], **inner)
    return registry.PASS


def _to_config(metric: Any) -> Any:
    if isinstance(metric, MeanMetricWrapper):
        config = {"name": metric.name, "dtype": "float32", "fn": serialize_function(metric.fn)}
        return {
            "module": "keras.src.metrics.reduction_metrics",
            "class_name": "MeanMetricWrapper",
            "config": {**config, **metric.fn_kwargs},
            "registered_name": "MeanMetricWrapper",
        }
    if callable(metric) and not isinstance(metric, Metric):
        return serialize_function(metric)
    return registry.PASS


_REGISTRY = registry.Registry(
    "metrics",
    Metric,
    "keras.metrics",
    METRIC_NAMES,
    special=_special,
    # A name becomes the metric's name in the logs exactly as written ("mae" -> "mae").
    from_name=lambda cls, name, _: cls(name=name),
    wrap=MeanMetricWrapper,
    to_config=_to_config,
)


def get(
    identifier: Any,
    loss: Any = None,
    y_shape: tuple | None = None,
    y_pred_shape: tuple | None = None,
) -> Metric:
    """Resolve a metric name, object, class, function or serialized dict to a Metric.

    A name becomes the metric's name in the logs exactly as written ("acc" -> "acc",
    "mae" -> "mae"), as Keras 3's compile does; an object keeps its own name.
    """
    return _REGISTRY.get(identifier, loss=loss, y_shape=y_shape, y_pred_shape=y_pred_shape)


def serialize(metric: Any) -> Any:
    """Keras 3's serialized form of a metric (a name is returned unchanged)."""
    return _REGISTRY.serialize(metric)


def deserialize(config: dict | str) -> Metric:
    """Inverse of `serialize`; reads Keras 3's own dicts too."""
    return _REGISTRY.deserialize(config)


# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("metrics", __name__)
