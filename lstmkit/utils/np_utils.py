"""Keras 2's `keras.utils.np_utils` import path (`to_categorical`, `normalize`), for tutorials."""

from lstmkit.utils.numerical import normalize, to_categorical

__all__ = ["normalize", "to_categorical"]
