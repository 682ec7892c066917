"""Keras 2's `keras.preprocessing` import paths, kept for tutorials (`preprocessing.sequence`,
`preprocessing.text`)."""

from lstmkit.preprocessing import sequence, text

__all__ = ["sequence", "text"]
