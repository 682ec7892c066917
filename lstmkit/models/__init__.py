"""Models: functional `Model` and `Sequential` (`lstmkit.models.Model` is `keras.models.Model`)."""

from lstmkit.models.functional import Model
from lstmkit.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
