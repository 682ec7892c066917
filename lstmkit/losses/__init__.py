"""Public losses, as `keras.losses`: the classes, the functions, `get`, `serialize`, `deserialize`.

The math lives in `lstmkit.losses.core`; this module adds the name lookup that `compile` uses
and the sparse-label check the trainer runs on concrete labels before jitting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lstmkit import catalogue as _catalogue
from lstmkit import registry
from lstmkit.losses.core import (
    BCE,
    MAE,
    MSE,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    bce,
    binary_crossentropy,
    categorical_crossentropy,
    huber,
    mae,
    mean_absolute_error,
    mean_squared_error,
    mse,
    reduce_weighted_values,
    serialize_function,
    sparse_categorical_crossentropy,
)
from lstmkit.losses.regression import (
    MAPE,
    MSLE,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    mape,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    msle,
)

__all__ = [
    "BCE", "MAE", "MSE", "BinaryCrossentropy", "CategoricalCrossentropy", "Huber", "Loss",
    "LossFunctionWrapper", "MeanAbsoluteError", "MeanSquaredError",
    "SparseCategoricalCrossentropy", "bce", "binary_crossentropy", "categorical_crossentropy",
    "check_sparse_labels", "deserialize", "get", "huber", "mae", "mean_absolute_error",
    "mean_squared_error", "mse", "reduce_weighted_values", "serialize",
    "sparse_categorical_crossentropy",
]  # fmt: skip
__all__ += ["MAPE", "MSLE", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "mape",
            "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "msle"]  # fmt: skip

LOSS_CLASSES: dict[str, type[Loss]] = {
    c.__name__: c
    for c in (
        MeanSquaredError,
        MeanAbsoluteError,
        Huber,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
    )
}
LOSS_FUNCTIONS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        mean_squared_error,
        mean_absolute_error,
        huber,
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
    )
}
LOSS_FUNCTIONS.update({"mse": mse, "MSE": mse, "mae": mae, "MAE": mae, "bce": bce, "BCE": bce})
LOSS_FUNCTIONS.update({"mape": mape, "MAPE": mape, "msle": msle, "MSLE": msle})


def crossentropy_for(y_true_shape: tuple, y_pred_shape: tuple) -> Callable:
    """Keras 3's "crossentropy"/"ce" rule: binary for one output unit, sparse for integer
    labels (y_true of lower rank, or last dim 1 against several units), else categorical."""
    if y_pred_shape[-1] == 1:
        return binary_crossentropy
    if len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        return sparse_categorical_crossentropy
    return categorical_crossentropy


def _special(identifier: Any, context: dict) -> Any:
    """ "crossentropy"/"ce" (decided by the shapes) and Keras's LossFunctionWrapper dicts."""
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        y_true_shape, y_pred_shape = context.get("y_true_shape"), context.get("y_pred_shape")
        if y_true_shape is None or y_pred_shape is None:
            raise ValueError(f"Loss {identifier!r} needs y_true_shape and y_pred_shape.")
        fn = crossentropy_for(tuple(y_true_shape), tuple(y_pred_shape))
        return LossFunctionWrapper(fn, name=fn.__name__)
    if isinstance(identifier, dict) and identifier.get("class_name") == "LossFunctionWrapper":
        inner = dict(identifier.get("config") or {})
        fn = inner.pop("fn")
        return LossFunctionWrapper(_REGISTRY.lookup(fn["config"] if isinstance(fn, dict) else fn),
                                   **inner)  # fmt: skip
    return registry.PASS


def _to_config(loss: Any) -> Any:
    if isinstance(loss, LossFunctionWrapper):
        return {
            "module": "keras.src.losses.losses",
            "class_name": "LossFunctionWrapper",
            "config": loss.get_config(),
            "registered_name": "LossFunctionWrapper",
        }
    if callable(loss) and not isinstance(loss, Loss):
        return serialize_function(loss)
    return registry.PASS


_REGISTRY = registry.Registry(
    "losses",
    Loss,
    "keras.losses",
    {**LOSS_CLASSES, **LOSS_FUNCTIONS},
    special=_special,
    # A name keeps its spelling as the loss's name ("mse" -> name "mse"), as Keras's compile does.
    from_name=lambda value, name, _: (
        value() if isinstance(value, type) else LossFunctionWrapper(value, name=name)
    ),
    wrap=LossFunctionWrapper,
    to_config=_to_config,
)


def get(
    identifier: Any, y_true_shape: tuple | None = None, y_pred_shape: tuple | None = None
) -> Loss | None:
    """Resolve a name, Loss, Loss class, per-sample function or serialized dict to a Loss.

    "crossentropy"/"ce" need the shapes of y_true and y_pred to choose the variant.
    """
    return _REGISTRY.get(identifier, y_true_shape=y_true_shape, y_pred_shape=y_pred_shape)


def serialize(loss: Any) -> Any:
    """Keras 3's serialized form of a loss object or function (a name is returned unchanged)."""
    return _REGISTRY.serialize(loss)


def deserialize(config: dict | str) -> Loss:
    """Inverse of `serialize`; reads Keras 3's own dicts too."""
    return _REGISTRY.deserialize(config)


def check_sparse_labels(y: Any, num_classes: int, ignore_class: int | None = None) -> None:
    """Raise a clear ValueError when sparse labels fall outside [0, num_classes).

    Call it on concrete (numpy) labels before jitting: inside jit a bad label silently gives a
    zero one-hot row (a loss of 0) instead of an error.
    """
    y = np.asarray(y)
    if ignore_class is not None:
        y = y[y != ignore_class]
    if y.size == 0:
        return
    bad = y[~np.isfinite(y) | (y != np.round(y))] if y.dtype.kind == "f" else y[:0]
    if bad.size:
        raise ValueError(
            f"Sparse labels must be integer class ids in [0, {num_classes}); "
            f"got non-integer values such as {bad.flat[0]!r}."
        )
    lo, hi = y.min(), y.max()
    if hi >= num_classes:
        raise ValueError(
            f"Sparse labels must be in [0, {num_classes}); got max {int(hi)} for {num_classes} "
            f"classes. Check the label encoding or the size of the output layer."
        )
    if lo < 0:
        raise ValueError(
            f"Sparse labels must be in [0, {num_classes}); got min {int(lo)} for {num_classes} "
            f"classes. To skip a padding label, pass ignore_class."
        )


# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("losses", __name__)
