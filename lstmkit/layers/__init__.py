"""Keras-named layers (`lstmkit.layers.LSTM` is `keras.layers.LSTM`)."""

from lstmkit import catalogue as _catalogue
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAveragePool1D,
    GlobalAveragePooling1D,
    GlobalAvgPool1D,
    GlobalMaxPool1D,
    GlobalMaxPooling1D,
    Input,
    InputLayer,
    Masking,
    Reshape,
)
from lstmkit.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "Activation", "Bidirectional", "Dense", "Dropout", "Embedding", "Flatten", "GRU", "GRUCell",
    "GlobalAveragePool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D",
    "GlobalMaxPooling1D", "Input", "InputLayer", "LSTM", "LSTMCell", "Layer", "Masking", "RNN",
    "Reshape", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells", "TimeDistributed",
]  # fmt: skip

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("layers", __name__)
