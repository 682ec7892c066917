"""Core layers against real Keras 3, and the masks they hand to an LSTM.

The Model that passes masks from layer to layer is tested with the models; here the mask is
carried by hand, as `layer.compute_mask(inputs, None)` into the LSTM's `mask=`, in both libraries.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import lstmkit.layers as L
from tests.layers import keras_twin
from tests.layers.keras_twin import assert_same

RNG = np.random.default_rng(2)


def randn(*shape):
    return keras_twin.randn(RNG, *shape)


def twin(make, x):
    theirs, ours = make(keras.layers), make(L)
    theirs.build(x.shape)
    ours(x)
    keras_twin.copy_random_weights(RNG, theirs, ours)
    return ours, theirs


# ----- Dense -------------------------------------------------------------------------------------
def test_dense_matches_keras_on_any_rank():
    x2, x3 = randn(3, 4), randn(2, 5, 4)
    ours, theirs = twin(lambda lib: lib.Dense(6, activation="relu"), x2)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [(4, 6), (6,)]
    assert_same(ours(x2), theirs(x2))
    assert_same(ours(x3), theirs(x3))  # built on 2-D, called on 3-D: same last axis, as Keras


def test_dense_without_bias_has_only_a_kernel():
    ours = L.Dense(2, use_bias=False)
    ours(randn(1, 3))
    assert [w.shape for w in ours.get_weights()] == [(3, 2)]


# ----- Embedding ---------------------------------------------------------------------------------
def test_embedding_weights_lookup_and_mask_match_keras():
    ids = np.array([[3, 1, 0, 0], [0, 0, 7, 2]])
    ours, theirs = twin(lambda lib: lib.Embedding(10, 5, mask_zero=True), ids)
    assert [w.shape for w in ours.get_weights()] == [(10, 5)]
    assert_same(ours(ids), theirs(ids))
    np.testing.assert_array_equal(
        np.asarray(ours.compute_mask(ids, None)), np.asarray(theirs.compute_mask(ids, None))
    )
    np.testing.assert_array_equal(np.asarray(ours.compute_mask(ids, None)), ids != 0)


def test_embedding_without_mask_zero_gives_no_mask():
    ids = np.array([[0, 1]])
    layer = L.Embedding(3, 2)
    layer(ids)
    assert layer.compute_mask(ids, None) is None


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_embedding_mask_zero_feeding_a_recurrent_layer(kind):
    # right padding, left padding, padding in the middle, and a row that is all padding
    ids = np.array([[4, 2, 9, 0, 0], [0, 0, 5, 3, 1], [6, 0, 0, 8, 2], [0, 0, 0, 0, 0]])
    emb_ours, emb_theirs = twin(lambda lib: lib.Embedding(10, 4, mask_zero=True), ids)
    x = np.asarray(emb_ours(ids))
    rnn_ours, rnn_theirs = twin(
        lambda lib: getattr(lib, kind)(3, return_sequences=True, return_state=True), x
    )
    mask_ours = emb_ours.compute_mask(ids, None)
    mask_theirs = emb_theirs.compute_mask(ids, None)
    got = rnn_ours(emb_ours(ids), mask=mask_ours)
    assert_same(got, rnn_theirs(emb_theirs(ids), mask=mask_theirs))
    # The all-padding row keeps the zero initial state throughout.
    assert np.all(np.asarray(got[0])[3] == 0.0)


# ----- Masking -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_value", [0.0, -1.0])
def test_masking_feeding_an_lstm(mask_value):
    x = randn(3, 6, 4)
    x[0, 4:] = mask_value  # right padding
    x[1, :2] = mask_value  # left padding
    x[2, 2] = mask_value  # a gap
    x[2, 3, 1:] = mask_value  # not masked: one feature differs
    mask_ours, mask_theirs = L.Masking(mask_value), keras.layers.Masking(mask_value)
    assert_same(mask_ours(x), mask_theirs(x))
    m = np.asarray(mask_ours.compute_mask(x, None))
    np.testing.assert_array_equal(m, np.asarray(mask_theirs.compute_mask(x, None)))
    expected = np.ones((3, 6), bool)
    expected[0, 4:] = expected[1, :2] = expected[2, 2] = False
    np.testing.assert_array_equal(m, expected)

    ours, theirs = twin(lambda lib: lib.LSTM(3, return_sequences=True), x)
    got = ours(mask_ours(x), mask=mask_ours.compute_mask(x, None))
    assert_same(got, theirs(mask_theirs(x), mask=mask_theirs.compute_mask(x, None)))
    got = np.asarray(got)
    np.testing.assert_array_equal(got[0, 4], got[0, 3])  # masked steps repeat the last output


def test_masking_feeding_a_bidirectional_lstm():
    x = randn(2, 5, 3)
    x[0, 3:] = 0.0
    x[1, :1] = 0.0
    mask = L.Masking().compute_mask(x, None)
    ours, theirs = twin(lambda lib: lib.Bidirectional(lib.LSTM(2, return_sequences=True)), x)
    got = ours(x, mask=mask)
    assert_same(got, theirs(x, mask=np.asarray(mask)))
    assert np.all(np.asarray(got)[0, 3:] == 0.0)  # Bidirectional zeroes masked steps, as Keras


# ----- pooling, dropout --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
def test_global_pooling_matches_keras(name):
    x = randn(3, 5, 4)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]], bool)
    ours, theirs = getattr(L, name)(), getattr(keras.layers, name)()
    assert_same(ours(x), theirs(x))
    # Keras's max pooling takes no mask (masked steps count); the average skips them.
    keras_kw = {"mask": mask} if name == "GlobalAveragePooling1D" else {}
    assert_same(ours(x, mask=mask), theirs(x, **keras_kw))


def test_dropout_layer():
    x = np.ones((400, 50), np.float32)
    layer = L.Dropout(0.3)
    assert_same(layer(x), x)
    y = np.asarray(layer(x, training=True))
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((y == 0).mean() - 0.3) < 0.01
