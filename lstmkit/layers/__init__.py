"""Keras-named layers (`lstmkit.layers.LSTM` is `keras.layers.LSTM`)."""

# attention and convolutional recurrent layers
from lstmkit.layers.attention import AdditiveAttention, Attention, Softmax
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
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
from lstmkit.layers.multi_head_attention import MultiHeadAttention
from lstmkit.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "Activation", "Bidirectional", "Dense", "Dropout", "Embedding", "Flatten", "GRU", "GRUCell",
    "GlobalAveragePool1D", "GlobalAveragePooling1D", "GlobalAvgPool1D", "GlobalMaxPool1D",
    "GlobalMaxPooling1D", "Input", "InputLayer", "LSTM", "LSTMCell", "Layer", "Masking", "RNN",
    "Reshape", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells", "TimeDistributed",
]  # fmt: skip
__all__ += ["AdditiveAttention", "Attention", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
            "EinsumDense", "MultiHeadAttention", "Softmax"]  # fmt: skip
