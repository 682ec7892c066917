"""Keras-named layers (`lstmkit.layers.LSTM` is `keras.layers.LSTM`)."""

from lstmkit.layers.base import Layer
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.layers.convolutional import Conv1D
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
from lstmkit.layers.normalization import BatchNormalization, LayerNormalization
from lstmkit.layers.pooling import AveragePooling1D, AvgPool1D, MaxPool1D, MaxPooling1D
from lstmkit.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.layers.regularization import GaussianNoise, SpatialDropout1D
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "Activation", "Bidirectional", "Dense", "Dropout", "Embedding", "Flatten", "GRU", "GRUCell",
    "GlobalAveragePool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D",
    "GlobalMaxPooling1D", "Input", "InputLayer", "LSTM", "LSTMCell", "Layer", "Masking", "RNN",
    "Reshape", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells", "TimeDistributed",
] + [
    "AveragePooling1D", "AvgPool1D", "BatchNormalization", "Conv1D", "GaussianNoise",
    "LayerNormalization", "MaxPool1D", "MaxPooling1D", "SpatialDropout1D",
]  # fmt: skip
