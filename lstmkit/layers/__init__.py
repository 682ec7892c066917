"""Keras-named layers (`lstmkit.layers.LSTM` is `keras.layers.LSTM`).

Preprocessing layers (TextVectorization, StringLookup, IntegerLookup) run in numpy on the host,
before the model, as they do in Keras on JAX.
"""

from lstmkit import catalogue as _catalogue
from lstmkit.layers.attention import AdditiveAttention, Attention, Softmax
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
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
from lstmkit.layers.einsum_dense import EinsumDense
from lstmkit.layers.index_lookup import IntegerLookup, StringLookup
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
from lstmkit.layers.multi_head_attention import MultiHeadAttention
from lstmkit.layers.normalization import BatchNormalization, LayerNormalization
from lstmkit.layers.pooling import AveragePooling1D, AvgPool1D, MaxPool1D, MaxPooling1D
from lstmkit.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.layers.regularization import GaussianNoise, SpatialDropout1D
from lstmkit.layers.reshaping import Permute, RepeatVector
from lstmkit.layers.text_vectorization import TextVectorization
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "Activation", "Add", "AdditiveAttention", "Attention", "Average", "AveragePooling1D",
    "AvgPool1D", "BatchNormalization", "Bidirectional", "Concatenate", "Conv1D", "ConvLSTM1D",
    "ConvLSTM2D", "ConvLSTM3D", "Dense", "Dot", "Dropout", "EinsumDense", "Embedding", "Flatten",
    "GRU", "GRUCell", "GaussianNoise", "GlobalAveragePool1D", "GlobalAveragePooling1D",
    "GlobalAvgPool1D", "GlobalMaxPool1D", "GlobalMaxPooling1D", "Input", "InputLayer",
    "IntegerLookup", "LSTM", "LSTMCell", "Lambda", "Layer", "LayerNormalization", "Masking",
    "MaxPool1D", "MaxPooling1D", "Maximum", "Minimum", "MultiHeadAttention", "Multiply", "Permute",
    "RNN", "RepeatVector", "Reshape", "SimpleRNN", "SimpleRNNCell", "Softmax", "SpatialDropout1D",
    "StackedRNNCells", "StringLookup", "Subtract", "TextVectorization", "TimeDistributed", "add",
    "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]  # fmt: skip

# A Keras name lstmkit lacks: an error pointing to docs/keras_catalogue.md (lstmkit/catalogue).
__getattr__ = _catalogue.module_getattr("layers", __name__)
