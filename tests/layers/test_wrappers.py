"""Bidirectional and TimeDistributed against real Keras 3 (Keras's weights copied in)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import lstmkit
import lstmkit.layers as L
from tests.layers import keras_twin
from tests.layers.keras_twin import assert_same

RNG = np.random.default_rng(1)
MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 0, 1]], bool)


def randn(*shape):
    return keras_twin.randn(RNG, *shape)


def twin(make, x):
    theirs, ours = make(keras.layers), make(L)
    theirs.build(x.shape)
    ours(x)
    keras_twin.copy_random_weights(RNG, theirs, ours)
    return ours, theirs


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes_match_keras(merge_mode):
    x = randn(3, 5, 4)
    init = [randn(3, 3) for _ in range(4)]

    def make(lib):
        inner = lib.LSTM(3, return_sequences=True, return_state=True)
        return lib.Bidirectional(inner, merge_mode=merge_mode)

    ours, theirs = twin(make, x)
    got = ours(x, mask=MASK, initial_state=init)
    assert_same(got, theirs(x, mask=MASK, initial_state=init))
    n_outputs = 2 if merge_mode is None else 1
    assert len(got) == n_outputs + 4  # outputs, then forward h, c, then backward h, c


@pytest.mark.parametrize("inner", ["GRU", "SimpleRNN"])
def test_bidirectional_last_output_and_states_match_keras(inner):
    x = randn(3, 5, 4)
    make = lambda lib: lib.Bidirectional(getattr(lib, inner)(3, return_state=True))  # noqa: E731
    ours, theirs = twin(make, x)
    assert_same(ours(x, mask=MASK), theirs(x, mask=MASK))


def test_bidirectional_backward_half_is_the_reversed_run():
    """The backward half equals the wrapped layer run with go_backwards, flipped in time."""
    x = randn(2, 4, 3)
    bi = L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode=None)
    forward, backward = bi(x)
    rev = L.GRU(2, return_sequences=True, go_backwards=True)
    rev(x)
    rev.set_weights(bi.get_weights()[3:])
    assert_same(backward, np.asarray(rev(x))[:, ::-1])
    assert_same(forward, bi.forward_layer(x))


def test_bidirectional_weights_and_names_follow_keras():
    x = randn(2, 5, 4)
    keras.backend.clear_session()
    lstmkit.backend.clear_session()
    theirs = keras.layers.Bidirectional(keras.layers.LSTM(3))
    ours = L.Bidirectional(L.LSTM(3))
    theirs.build(x.shape)
    ours(x)
    assert ours.name == theirs.name == "bidirectional"
    assert ours.forward_layer.name == theirs.forward_layer.name == "forward_lstm"
    assert ours.backward_layer.name == theirs.backward_layer.name == "backward_lstm"
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    # Forward layer's kernel, recurrent_kernel, bias, then the backward layer's.
    keras_twin.copy_random_weights(RNG, theirs, ours)
    forward = theirs.forward_layer.get_weights()
    for a, b in zip(ours.forward_layer.get_weights() + ours.backward_layer.get_weights(),
                    forward + theirs.backward_layer.get_weights()):  # fmt: skip
        np.testing.assert_array_equal(a, b)


def test_time_distributed_dense_matches_keras():
    x = randn(3, 5, 4)
    make = lambda lib: lib.TimeDistributed(lib.Dense(6, activation="tanh"))  # noqa: E731
    ours, theirs = twin(make, x)
    assert [w.shape for w in ours.get_weights()] == [(4, 6), (6,)]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert_same(ours(x), theirs(x))


def test_time_distributed_over_lstm_output():
    x = randn(2, 5, 4)
    lstm = L.LSTM(3, return_sequences=True)
    head = L.TimeDistributed(L.Dense(2))
    y = head(lstm(x))
    assert y.shape == (2, 5, 2)
    kernel, bias = head.get_weights()
    np.testing.assert_allclose(np.asarray(y), np.asarray(lstm(x)) @ kernel + bias, atol=1e-6)
