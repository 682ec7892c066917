"""Keras 2's `keras.preprocessing` import path, kept for tutorials (`preprocessing.sequence`)."""

from lstmkit.preprocessing import sequence

__all__ = ["sequence"]
