"""lstmkit.naming.to_snake_case is Keras 3's (layer, loss, metric, optimizer and weight-group
names all come from it)."""

import pytest
from keras.src.utils.naming import to_snake_case as keras_to_snake_case

from lstmkit.naming import to_snake_case

NAMES = ["LSTM", "LSTMCell", "GRU", "SimpleRNNCell", "GlobalMaxPooling1D", "Bidirectional",
         "BinaryCrossentropy", "SparseCategoricalAccuracy", "AdamW", "RMSprop", "NotEqual",
         "TimeDistributed", "MeanSquaredError", "Conv1D", "L1L2", "my-Layer2D"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_same_as_keras(name):
    assert to_snake_case(name) == keras_to_snake_case(name)
