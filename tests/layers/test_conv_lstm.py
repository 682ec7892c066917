"""ConvLSTM1D/2D/3D against real Keras 3: weights, outputs, states, configs.

Keras 3.15's ConvLSTM crashes on a mask (it broadcasts a (batch, 1) mask against image states),
so masks are checked against Keras on the truncated sequence: a step masked at the end must leave
the result of the steps before it.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import lstmkit.layers as L
from tests.layers import keras_twin
from tests.layers.keras_twin import assert_same

RNG = np.random.default_rng(11)
ZEROS = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}

CASES = {
    "1d_sequences": ("ConvLSTM1D", (2, 4, 7, 3), {"filters": 2, "kernel_size": 3,
                                                  "return_sequences": True}),
    "1d_strides_states_backwards": ("ConvLSTM1D", (2, 4, 7, 3), {
        "filters": 2, "kernel_size": 2, "strides": 2, "return_state": True,
        "go_backwards": True}),
    "2d_same_dilated": ("ConvLSTM2D", (2, 3, 5, 4, 2), {
        "filters": 3, "kernel_size": (3, 2), "padding": "same", "dilation_rate": (2, 1),
        "return_sequences": True, "return_state": True}),
    "2d_channels_first": ("ConvLSTM2D", (2, 3, 2, 5, 4), {
        "filters": 2, "kernel_size": 2, "data_format": "channels_first", "use_bias": False,
        "unit_forget_bias": False, "activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    "3d": ("ConvLSTM3D", (1, 2, 3, 4, 3, 2), {"filters": 2, "kernel_size": 2,
                                              "padding": "same"}),
}  # fmt: skip


def twins(name, shape, kw):
    # random initializers compile once per weight shape; the weights are overwritten anyway
    kw = {**ZEROS, **kw}
    x = keras_twin.randn(RNG, *shape)
    theirs, ours = getattr(keras.layers, name)(**kw), getattr(L, name)(**kw)
    theirs.build(x.shape)
    ours(x)
    keras_twin.copy_random_weights(RNG, theirs, ours)
    return ours, theirs, x


def without_name(config):
    config = dict(config)
    config.pop("name")
    if config.get("activity_regularizer", 0) is None:  # as LSTM: saving writes Keras's None
        config.pop("activity_regularizer")
    if isinstance(config["dtype"], dict):
        config["dtype"] = config["dtype"]["config"]["name"]
    return config


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=pytest.mark.slow) if c == "3d" else c for c in CASES]
)  # ConvLSTM3D is ConvLSTM2D's code with one more spatial axis: in the slow run
def test_conv_lstm_matches_keras(case):
    name, shape, kw = CASES[case]
    ours, theirs, x = twins(name, shape, kw)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert_same(ours(x), theirs(x))
    out_shape = ours.compute_output_shape((None, *shape[1:]))
    assert out_shape == theirs.compute_output_shape((None, *shape[1:])) or list(
        out_shape) == list(theirs.compute_output_shape((None, *shape[1:])))  # fmt: skip
    assert without_name(theirs.get_config()) == without_name(ours.get_config())
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


@pytest.fixture(scope="module")
def pair():
    """(ours, theirs, x, Keras's [sequence, h, c] on x): Keras's eager call computed once."""
    ours, theirs, x = twins("ConvLSTM2D", (2, 4, 4, 3, 2), {
        "filters": 2, "kernel_size": 2, "padding": "same", "return_sequences": True,
        "return_state": True})  # fmt: skip
    return ours, theirs, x, [np.asarray(a) for a in theirs(x)]


def test_masked_final_steps_leave_the_shorter_sequence_result(pair):
    ours, theirs, x, want = pair
    mask = np.ones((2, 4), bool)
    mask[0, 2:] = False  # the first sequence is two steps long
    seq, h, c = (np.asarray(a) for a in ours(x, mask=mask))
    _, h_short, c_short = theirs(x[:, :2])
    assert_same([h[0], c[0]], [np.asarray(h_short)[0], np.asarray(c_short)[0]])
    np.testing.assert_array_equal(seq[0, 3], seq[0, 1])  # masked steps repeat the last output
    assert_same([h[1], c[1]], [a[1] for a in want[1:]])


def test_initial_state_and_stateful_carry(pair):
    ours, theirs, x, want = pair
    h0 = keras_twin.randn(RNG, 2, 4, 3, 2)
    c0 = keras_twin.randn(RNG, 2, 4, 3, 2)
    assert_same(ours(x, initial_state=[h0, c0]), theirs(x, initial_state=[h0, c0]))
    stateful = L.ConvLSTM2D(2, 2, padding="same", return_state=True, stateful=True, **ZEROS)
    stateful(x[:, :2])
    stateful.set_weights(ours.get_weights())
    stateful.reset_state()
    stateful(x[:, :2])
    _, h, c = stateful(x[:, 2:])
    assert_same([h, c], want[1:])  # two halves carried = the whole sequence


def test_dropout_only_in_training(pair):
    ours, _, x, want = pair
    layer = L.ConvLSTM2D(2, 2, padding="same", dropout=0.3, recurrent_dropout=0.3, **ZEROS)
    layer(x)
    layer.set_weights(ours.get_weights())
    assert_same(layer(x), want[1])
    a, b = np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))
    assert np.abs(a - b).max() > 1e-4


def test_conv_lstm_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"'c'.*5-D input"):
        L.ConvLSTM2D(2, 2, name="c")(np.zeros((2, 3, 4, 2), "float32"))
    with pytest.raises(ValueError, match="padding"):
        L.ConvLSTM1D(2, 2, padding="causal")
    with pytest.raises(ValueError, match="dilation_rate"):
        L.ConvLSTM1D(2, 2, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="filters"):
        L.ConvLSTM1D(0, 2)
