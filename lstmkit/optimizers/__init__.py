"""`lstmkit.optimizers`: Keras-named optimizers (built on optax) and `schedules`.

``from lstmkit.optimizers.schedules import ExponentialDecay`` works as with Keras.
"""

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
from lstmkit.optimizers.base import Optimizer, get_iterations, get_lr, set_lr

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
