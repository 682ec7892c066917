"""Keras-named layers (`lstmkit.layers.LSTM` is `keras.layers.LSTM`)."""

from lstmkit import catalogue as _catalogue
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
from lstmkit.layers.lambda_layer import Lambda
from lstmkit.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from lstmkit.layers.normalization import BatchNormalization, LayerNormalization
from lstmkit.layers.pooling import AveragePooling1D, AvgPool1D, MaxPool1D, MaxPooling1D
from lstmkit.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.layers.regularization import GaussianNoise, SpatialDropout1D
from lstmkit.layers.reshaping import Permute, RepeatVector
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

# Preprocessing layers (numpy, run on the host before the model): text branch.
from lstmkit.layers.index_lookup import IntegerLookup, StringLookup  # noqa: E402
from lstmkit.layers.text_vectorization import TextVectorization  # noqa: E402

__all__ += ["IntegerLookup", "StringLookup", "TextVectorization"]

__all__ += [
    "Add", "Average", "Concatenate", "Dot", "Lambda", "Maximum", "Minimum", "Multiply", "Permute",
    "RepeatVector", "Subtract", "add", "average", "concatenate", "dot", "maximum", "minimum",
    "multiply", "subtract",
]  # fmt: skip

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("layers", __name__)
