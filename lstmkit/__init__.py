"""lstmkit: the Keras LSTM system on JAX, exact to Keras 3, fast and transparent."""

from lstmkit import (
    activations,
    backend,
    callbacks,
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
from lstmkit.layers import Input
from lstmkit.layers.variables import StatelessScope, Variable
from lstmkit.models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "StatelessScope",
    "Variable",
    "activations",
    "backend",
    "callbacks",
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
