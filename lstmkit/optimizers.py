"""`lstmkit.optimizers`: Keras-named optimizers (built on optax) and `schedules`.

``from lstmkit.optimizers.schedules import ExponentialDecay`` works as with Keras.
"""

import sys

from lstmkit.training import schedules
from lstmkit.training.optimizer_base import Optimizer, get_iterations, get_lr, set_lr
from lstmkit.training.optimizers import (
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

sys.modules[__name__ + ".schedules"] = schedules  # make the dotted import path resolve

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
