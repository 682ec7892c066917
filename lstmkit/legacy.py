"""Keras 1/2 spellings lstmkit still accepts: one table, one warning.

Old programs (`LSTM(output_dim=32, inner_activation="hard_sigmoid")`, `fit(nb_epoch=10)`,
`Model(input=x, output=y)`, `Embedding(..., input_length=30)`) run unchanged: each old spelling
raises a DeprecationWarning naming its Keras 3 replacement, then means exactly what it meant.
Layers, models and `fit` call the functions here; nothing else knows the old names.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np

from lstmkit.kernels.activations import hard_sigmoid_legacy

# Old argument -> Keras 3 argument, per family of callers.
RENAMED_ARGUMENTS: dict[str, dict[str, str]] = {
    "recurrent": {  # LSTM, GRU, SimpleRNN (Keras 1; cells came later, with Keras 2's names)
        "output_dim": "units",
        "inner_activation": "recurrent_activation",
        "init": "kernel_initializer",
        "inner_init": "recurrent_initializer",
        "dropout_W": "dropout",
        "dropout_U": "recurrent_dropout",
        "W_regularizer": "kernel_regularizer",
        "U_regularizer": "recurrent_regularizer",
        "b_regularizer": "bias_regularizer",
    },
    "Dense": {"output_dim": "units"},
    "Model": {"input": "inputs", "output": "outputs"},
    "fit": {"nb_epoch": "epochs"},
    "optimizer": {"lr": "learning_rate"},  # Keras 2
    "ReduceLROnPlateau": {"epsilon": "min_delta"},  # Keras 2
}
# Keras 1 arguments with no Keras 3 meaning, dropped without a word (as Keras 2 did).
DROPPED_ARGUMENTS: dict[str, set[str]] = {"recurrent": {"forget_bias_init"}}
# Keras 2 layer-config keys a Keras 3 file spells differently (read from old configs).
RENAMED_CONFIG_KEYS: dict[str, dict[str, str]] = {
    "InputLayer": {"batch_input_shape": "batch_shape"}
}
# Spellings whose replacement is not a rename: what to write instead.
REPLACEMENTS: dict[str, str] = {
    "batch_input_shape": "an `Input(batch_shape=...)`",
    "input_shape": "an `Input(shape=...)` as the first layer",
    "input_dim": "an `Input(shape=(..., input_dim))` as the first layer",
    "input_length": "an `Input(shape=(input_length, ...))` as the first layer",
    "predict_classes": "`(model.predict(x) > 0.5).astype('int32')` for one sigmoid unit or "
    "`np.argmax(model.predict(x), axis=-1)`",
}


def _in_lstmkit(module: str) -> bool:
    return module == "lstmkit" or module.startswith("lstmkit.")


def warn(where: str, old: str, new: str) -> None:
    """The one DeprecationWarning: `where: `old=` is a legacy (Keras 1/2) argument; use new`,
    pointing at the user's line (the first caller outside lstmkit)."""
    spelled, kind = (old, "method") if old == "predict_classes" else (f"{old}=", "argument")
    frame, level = sys._getframe(1), 2
    while frame is not None and _in_lstmkit(frame.f_globals.get("__name__", "")):
        frame, level = frame.f_back, level + 1
    warnings.warn(
        f"{where}: `{spelled}` is a legacy (Keras 1/2) {kind}; use {new} instead.",
        DeprecationWarning,
        stacklevel=level,
    )


def pop_renamed(where: str, family: str, kwargs: dict[str, Any], old: str) -> Any:
    """Remove the old argument `old` from `kwargs`, warn, and return its value in Keras 3's
    meaning (Keras 1's `inner_activation="hard_sigmoid"` keeps its formula, clip(0.2 x + 0.5))."""
    warn(where, old, f"`{RENAMED_ARGUMENTS[family][old]}`")
    value = kwargs.pop(old)
    if old == "inner_activation" and value == "hard_sigmoid":
        value = hard_sigmoid_legacy
    return value


def rename_arguments(where: str, family: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with `family`'s old argument names replaced by Keras 3's (each warned about);
    a Keras 3 name given as well wins."""
    kwargs = dict(kwargs)
    for old, new in RENAMED_ARGUMENTS[family].items():
        if old in kwargs:
            kwargs.setdefault(new, pop_renamed(where, family, kwargs, old))
    for old in DROPPED_ARGUMENTS.get(family, ()):
        kwargs.pop(old, None)
    return kwargs


def rename_config_keys(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """A layer config from a Keras 2 file with Keras 3's key names."""
    config = dict(config)
    for old, new in RENAMED_CONFIG_KEYS.get(class_name, {}).items():
        if old in config:
            config.setdefault(new, config.pop(old))
    return config


def declared_batch_shape(
    where: str,
    input_shape: Any = None,
    batch_input_shape: Any = None,
    batch_size: int | None = None,
    input_dim: int | None = None,
    input_length: int | None = None,
    sequence: bool = False,
) -> tuple | None:
    """The batch shape a first layer declares with Keras 2's `batch_input_shape`, `input_shape`,
    `input_dim` or `input_length` (Sequential turns it into an Input), or None.

    `input_dim` is the last axis; `input_length` the time axis: Embedding's only axis
    (`Embedding(100, 8, input_length=30)` takes (batch, 30)), a recurrent layer's first one
    (`sequence=True`: `LSTM(8, input_dim=3, input_length=5)` takes (batch, 5, 3)).
    """
    if batch_input_shape is not None:
        given, shape = "batch_input_shape", tuple(batch_input_shape)
    elif input_shape is not None:
        given, shape = "input_shape", (batch_size, *tuple(input_shape))
    elif input_dim is not None:
        given = "input_dim"
        shape = (batch_size, input_length, input_dim) if sequence else (batch_size, input_dim)
    elif input_length is not None and not sequence:
        given, shape = "input_length", (batch_size, input_length)
    else:
        return None
    if input_length is not None:
        given = "input_length" if given == "input_dim" else given
        shape = (shape[0], input_length, *shape[2:])  # input_length names the time axis
    warn(where, given, REPLACEMENTS[given])
    return shape


def predict_classes(model: Any, x: Any, batch_size: int = 32, verbose: Any = 0) -> Any:
    """Keras 1/2's `model.predict_classes`: class indices (a threshold of 0.5 for one sigmoid
    unit, else the argmax)."""
    warn(model.name, "predict_classes", REPLACEMENTS["predict_classes"])
    p = np.asarray(model.predict(x, batch_size=batch_size, verbose=verbose))
    if p.shape[-1] == 1:
        return (p > 0.5).astype("int32")
    return np.argmax(p, axis=-1)
