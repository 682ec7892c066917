"""Public activations, as `keras.activations`: the functions plus `get` and `serialize`."""

from lstmkit import catalogue as _catalogue
from lstmkit import registry
from lstmkit.kernels.activations import (
    celu,
    elu,
    exponential,
    gelu,
    get,
    glu,
    hard_shrink,
    hard_sigmoid,
    hard_sigmoid_legacy,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    linear,
    log_sigmoid,
    log_softmax,
    mish,
    names,
    relu,
    relu6,
    selu,
    serialize,
    sigmoid,
    silu,
    soft_shrink,
    softmax,
    softplus,
    softsign,
    sparse_plus,
    sparse_sigmoid,
    sparsemax,
    squareplus,
    swish,
    tanh,
    tanh_shrink,
    threshold,
)


def deserialize(config: str | dict) -> object:
    """The activation function named by a config entry (a name or a serialized dict)."""
    return get(config)


registry.register("activations", get, serialize, deserialize)


__all__ = [
    "celu", "deserialize", "elu", "exponential", "gelu", "get", "glu", "hard_shrink",
    "hard_sigmoid", "hard_sigmoid_legacy", "hard_silu", "hard_swish", "hard_tanh",
    "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "names", "relu", "relu6",
    "selu", "serialize", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
    "threshold",
]  # fmt: skip

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("activations", __name__)
