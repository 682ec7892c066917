"""lstmkit: the Keras LSTM system on JAX, exact to Keras 3, fast and transparent."""

from lstmkit import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
    distribution,
    export,
    initializers,
    inspect,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    regularizers,
    saving,
    utils,
)
from lstmkit import catalogue as _catalogue
from lstmkit.initializers import Initializer
from lstmkit.layers import Input, Layer
from lstmkit.layers.variables import StatelessScope, Variable
from lstmkit.losses import Loss
from lstmkit.metrics import Metric
from lstmkit.models import Model, Sequential
from lstmkit.optimizers import Optimizer
from lstmkit.regularizers import Regularizer

__version__ = "0.1.0"

__all__ = [
    "Initializer",
    "Input",
    "Layer",
    "Loss",
    "Metric",
    "Model",
    "Optimizer",
    "Regularizer",
    "Sequential",
    "StatelessScope",
    "Variable",
    "activations",
    "backend",
    "callbacks",
    "config",
    "constraints",
    "distribution",
    "export",
    "initializers",
    "inspect",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "regularizers",
    "saving",
    "utils",
]

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("", __name__)
