"""`keras.preprocessing.sequence.pad_sequences`, the Keras 2 (and Keras 3) legacy import path."""

from lstmkit.utils.sequences import pad_sequences

__all__ = ["pad_sequences"]
