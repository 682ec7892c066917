"""Keras 2's `keras.preprocessing` import paths, kept for tutorials (`preprocessing.sequence`,
`preprocessing.text`)."""

from lstmkit import catalogue as _catalogue
from lstmkit.preprocessing import sequence, text

__all__ = ["sequence", "text"]

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("preprocessing", __name__)
