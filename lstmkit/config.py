"""Keras's `keras.config`: the global settings that mean something in lstmkit.

The backend is always JAX and float32 is the float type; Keras's setters for those, and its
interactive-logging, traceback and flash-attention switches, are listed as not supported in
`docs/keras_catalogue.md`. The float32 matmul precision switch is `lstmkit.backend`'s.
"""

from lstmkit import catalogue as _catalogue
from lstmkit.layers.lambda_layer import enable_unsafe_deserialization
from lstmkit.mixed_precision import dtype_policy, set_dtype_policy

__all__ = [
    "backend", "dtype_policy", "enable_unsafe_deserialization", "epsilon", "floatx",
    "image_data_format", "set_dtype_policy",
]  # fmt: skip


def backend() -> str:
    """The backend lstmkit runs on: always "jax"."""
    return "jax"


def epsilon() -> float:
    """The fuzz factor Keras's losses and metrics use (lstmkit's are fixed at Keras's default)."""
    return 1e-7


def floatx() -> str:
    """The default float type of weights and computations."""
    return "float32"


def image_data_format() -> str:
    """The default `data_format` of the convolutional and pooling layers."""
    return "channels_last"


# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("config", __name__)
