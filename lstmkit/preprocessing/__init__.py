"""Keras 2's `keras.preprocessing` import path, kept for tutorials (`preprocessing.sequence`)."""

from lstmkit import catalogue as _catalogue
from lstmkit.preprocessing import sequence

__all__ = ["sequence"]

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("preprocessing", __name__)
