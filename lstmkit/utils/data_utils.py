"""Keras 2's `keras.utils.data_utils` path (`from keras.utils.data_utils import Sequence`)."""

from lstmkit.utils.py_dataset import PyDataset

Sequence = PyDataset

__all__ = ["PyDataset", "Sequence"]
