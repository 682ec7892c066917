"""`lstmkit.optimizers`: Keras-named optimizers (built on optax) and `schedules`.

``from lstmkit.optimizers.schedules import ExponentialDecay`` works as with Keras.
"""

from lstmkit import catalogue as _catalogue
from lstmkit.optimizers import schedules
from lstmkit.optimizers.algorithms import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    Nadam,
    RMSprop,
    deserialize,
    get,
    serialize,
)
from lstmkit.optimizers.base import Optimizer
from lstmkit.optimizers.opt_state import get_iterations, get_lr, set_lr

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "deserialize",
    "get",
    "get_iterations",
    "get_lr",
    "schedules",
    "serialize",
    "set_lr",
]

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("optimizers", __name__)
