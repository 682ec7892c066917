"""Bad input gets a clear error (issue 2, item 7): a ValueError or TypeError whose message names
the layer, says what was expected and what was given; never a raw JAX traceback."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lstmkit.layers as L


def zeros(*shape):
    return np.zeros(shape, np.float32)


def raises(match: str, *parts: str):
    """pytest.raises(ValueError) whose message matches `match` (a regex) and contains `parts`."""
    return pytest.raises(ValueError, match=match + "".join(f"(?=.*{re.escape(p)})" for p in parts))


def test_two_dimensional_input_to_an_rnn():
    with raises(r"Layer 'encoder'", "3-D input (batch, time, features)", "(2, 5)"):
        L.LSTM(3, name="encoder")(zeros(2, 5))


def test_two_dimensional_symbolic_input_to_an_rnn():
    with raises(r"Layer 'encoder'", "3-D input", "(None, 5)"):
        L.GRU(3, name="encoder")(L.Input(shape=(5,)))


def test_wrong_feature_size_after_build():
    layer = L.LSTM(3, name="encoder")
    layer(zeros(2, 5, 4))
    with raises(r"Layer 'encoder'", "last dimension 4", "(2, 5, 6)"):
        layer(zeros(2, 5, 6))


def test_wrong_initial_state_count():
    layer = L.LSTM(3, name="encoder")
    with raises(r"Layer 'encoder'", "expects 2 initial state", "got 1"):
        layer(zeros(2, 5, 4), initial_state=[zeros(2, 3)])


def test_wrong_initial_state_shape():
    layer = L.LSTM(3, name="encoder")
    with raises(r"Layer 'encoder'", "initial_state[1]", "(2, 3)", "(2, 4)"):
        layer(zeros(2, 5, 4), initial_state=[zeros(2, 3), zeros(2, 4)])


def test_wrong_initial_state_count_for_bidirectional():
    layer = L.Bidirectional(L.GRU(3), name="bi")
    with raises(r"Layer 'bi'", "2 initial state", "got 3"):
        layer(zeros(2, 5, 4), initial_state=[zeros(2, 3)] * 3)


def test_stateful_layer_called_with_another_batch_size():
    layer = L.LSTM(3, stateful=True, name="encoder")
    layer(zeros(2, 5, 4))
    with raises(r"Layer 'encoder'", "batch size 2", "batch size 3"):
        layer(zeros(3, 5, 4))


def test_stateful_layer_needs_a_fixed_batch_size():
    with raises(r"Layer 'encoder'", "stateful", "batch_shape"):
        L.LSTM(3, stateful=True, name="encoder")(L.Input(shape=(5, 4)))


def test_mask_with_the_wrong_shape():
    with raises(r"Layer 'encoder'", "(2, 5)", "(2, 4)"):
        L.LSTM(3, name="encoder")(zeros(2, 5, 4), mask=np.ones((2, 4), bool))


@pytest.mark.parametrize("arg", ["activation", "recurrent_activation"])
def test_unknown_activation_name(arg):
    with raises(r"Layer 'encoder'", arg, "'tanhh'", "Known activations", "tanh"):
        L.LSTM(3, name="encoder", **{arg: "tanhh"})


def test_unknown_activation_name_without_a_layer_name():
    with raises(r"Layer 'gru(_\d+)?'", "activation", "'relux'"):
        L.GRU(3, activation="relux")


def test_unknown_activation_on_dense():
    with raises(r"Layer 'head'", "activation", "'softmaxx'"):
        L.Dense(3, activation="softmaxx", name="head")


@pytest.mark.parametrize("arg", ["kernel_initializer", "recurrent_initializer", "bias_initializer"])
def test_unknown_initializer_name(arg):
    with raises(r"Layer 'encoder'", arg, "'glorot_unifrom'", "Known initializers"):
        L.LSTM(3, name="encoder", **{arg: "glorot_unifrom"})


def test_unknown_initializer_on_embedding():
    with raises(r"Layer 'emb'", "embeddings_initializer", "'unifrom'"):
        L.Embedding(10, 3, embeddings_initializer="unifrom", name="emb")


@pytest.mark.parametrize("units", [0, -2])
@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN, L.Dense])
def test_units_must_be_positive(cls, units):
    with raises(r"Layer 'layer_x'", "`units` must be a positive integer", f"got {units}"):
        cls(units, name="layer_x")


def test_cell_units_must_be_positive():
    with raises(r"Layer 'cell_x'", "`units`", "got 0"):
        L.LSTMCell(0, name="cell_x")


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
@pytest.mark.parametrize("arg", ["dropout", "recurrent_dropout"])
def test_dropout_outside_zero_one(arg, rate):
    with raises(r"Layer 'encoder'", f"`{arg}` must be a float in [0, 1)", f"got {rate}"):
        L.LSTM(3, name="encoder", **{arg: rate})


def test_dropout_layer_rate_outside_zero_one():
    with raises(r"Layer 'drop'", "`rate` must be a float in [0, 1)", "got 1.0"):
        L.Dropout(1.0, name="drop")


@pytest.mark.parametrize("bad", [10, -1])
def test_embedding_ids_outside_input_dim(bad):
    ids = np.array([[1, 2, bad]])
    with raises(r"Layer 'emb'", "[0, 10)", str(bad)):
        L.Embedding(10, 3, name="emb")(ids)


def test_set_weights_with_the_wrong_count():
    layer = L.LSTM(3, name="encoder")
    layer(zeros(1, 2, 4))
    with raises(r"Layer 'encoder'", "3 arrays", "(4, 12)", "got 2"):
        layer.set_weights(layer.get_weights()[:2])


def test_set_weights_with_the_wrong_shape():
    layer = L.LSTM(3, name="encoder")
    layer(zeros(1, 2, 4))
    kernel, recurrent, bias = layer.get_weights()
    with raises(r"Layer 'encoder'", "weight 1", "(3, 12)", "(4, 12)"):
        layer.set_weights([kernel, kernel, bias])
    np.testing.assert_array_equal(layer.get_weights()[1], recurrent)  # nothing changed


def test_set_weights_on_an_unbuilt_layer():
    with raises(r"Layer 'encoder'", "0 arrays", "got 3"):
        L.LSTM(3, name="encoder").set_weights([zeros(4, 12), zeros(3, 12), zeros(12)])


def test_positional_call_options_are_refused():
    layer = L.LSTM(3, name="encoder")
    with pytest.raises(TypeError, match=r"Layer 'encoder'.*keyword.*mask="):
        layer(zeros(1, 2, 4), [zeros(1, 3), zeros(1, 3)])


def test_cell_called_on_a_sequence():
    with raises(r"Cell 'cell_x'", "(batch, features)", "(2, 5, 4)"):
        L.LSTMCell(3, name="cell_x")(zeros(2, 5, 4), [zeros(2, 3), zeros(2, 3)])


def test_cell_called_with_wrong_states():
    with raises(r"Cell 'cell_x'", "[(2, 3), (2, 3)]", "[(2, 3)]"):
        L.LSTMCell(3, name="cell_x")(zeros(2, 4), [zeros(2, 3)])
