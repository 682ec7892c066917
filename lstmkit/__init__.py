"""lstmkit: the Keras LSTM system on JAX, exact to Keras 3, fast and transparent."""

from lstmkit import activations, backend, constraints, initializers, layers, regularizers, utils
from lstmkit.layers import Input

__version__ = "0.1.0"

__all__ = [
    "Input", "activations", "backend", "constraints", "initializers", "layers", "regularizers",
    "utils",
]  # fmt: skip
