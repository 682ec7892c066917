"""Keras 1/2 spellings (lstmkit/legacy.py): each warns naming the Keras 3 spelling and then means
exactly what the Keras 3 spelling means. The meanings are Keras 1/2's documented ones (Keras 3
itself refuses these spellings, so it cannot be the oracle here)."""

import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L
from lstmkit import legacy

# A value for each renamed recurrent argument (any valid value of the Keras 3 argument).
RECURRENT_VALUES = {
    "units": 3,
    "recurrent_activation": "tanh",
    "kernel_initializer": "glorot_normal",
    "recurrent_initializer": "identity",
    "dropout": 0.25,
    "recurrent_dropout": 0.5,
    "kernel_regularizer": "l2",
    "recurrent_regularizer": "l1",
    "bias_regularizer": "l2",
}


def _config(layer):
    return {k: v for k, v in layer.get_config().items() if k != "name"}


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU, L.SimpleRNN])
@pytest.mark.parametrize("old", sorted(legacy.RENAMED_ARGUMENTS["recurrent"]))
def test_each_recurrent_rename_means_the_keras3_argument(cls, old):
    new = legacy.RENAMED_ARGUMENTS["recurrent"][old]
    value = RECURRENT_VALUES[new]
    base = {"units": 2} if new != "units" else {}
    with pytest.warns(DeprecationWarning, match=f"`{old}=`.*use `{new}`"):
        old_layer = cls(**base, **{old: value})
    assert _config(old_layer) == _config(cls(**base, **{new: value}))


def test_the_keras3_spelling_wins_when_both_are_given():
    with pytest.warns(DeprecationWarning):
        layer = L.LSTM(units=4, output_dim=7)
    assert layer.units == 4


def test_forget_bias_init_is_dropped_silently():
    layer = L.LSTM(2, forget_bias_init="one")
    assert _config(layer) == _config(L.LSTM(2))


def test_inner_activation_hard_sigmoid_keeps_the_keras1_formula():
    with pytest.warns(DeprecationWarning, match="recurrent_activation"):
        layer = L.GRU(2, inner_activation="hard_sigmoid")
    z = np.linspace(-4, 4, 17).astype("float32")
    np.testing.assert_allclose(layer.recurrent_activation(z), np.clip(0.2 * z + 0.5, 0, 1))


def test_dense_output_dim():
    with pytest.warns(DeprecationWarning, match="`output_dim=`.*use `units`"):
        assert L.Dense(output_dim=5).units == 5


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: L.LSTM(4, input_dim=3, input_length=5), (None, 5, 3)),  # Keras 2: (time, dim)
        (lambda: L.LSTM(4, input_dim=3), (None, None, 3)),
        (lambda: L.GRU(4, input_shape=(6, 2)), (None, 6, 2)),
        (lambda: L.GRU(4, batch_input_shape=(8, 6, 2)), (8, 6, 2)),
        (lambda: L.LSTM(4, batch_input_shape=(8, None, 2), input_length=9), (8, 9, 2)),
        (lambda: L.Embedding(10, 4, input_length=7), (None, 7)),
        (lambda: L.Dense(2, input_dim=3), (None, 3)),
        (lambda: L.Dense(2, input_shape=(4, 3), batch_size=5), (5, 4, 3)),
    ],
)
def test_first_layer_shapes_become_the_input(make, shape):
    with pytest.warns(DeprecationWarning, match="`Input"):
        layer = make()
    assert lstmkit.Sequential([layer]).inputs[0].shape == shape


def test_one_warning_per_declared_shape():
    with pytest.warns(DeprecationWarning) as record:
        L.Embedding(10, 4, input_length=7)
    assert len([w for w in record if w.category is DeprecationWarning]) == 1
    assert "input_length" in str(record[0].message)


def test_keras2_input_layer_config_reads():
    config = {"name": "x", "batch_input_shape": [None, 5, 2], "dtype": "float32"}
    assert legacy.rename_config_keys("InputLayer", config)["batch_shape"] == [None, 5, 2]
    assert legacy.rename_config_keys("Dense", config) == config


def test_the_warning_points_at_the_users_line():
    with pytest.warns(DeprecationWarning) as record:
        L.LSTM(output_dim=2)
    assert record[0].filename == __file__


def test_keras2_optimizer_lr_and_reduce_lr_epsilon():
    with pytest.warns(DeprecationWarning, match="`lr=`.*use `learning_rate`"):
        assert lstmkit.optimizers.Adam(lr=0.25).learning_rate == 0.25
    with pytest.warns(DeprecationWarning, match="`epsilon=`.*use `min_delta`"):
        callback = lstmkit.callbacks.ReduceLROnPlateau(epsilon=0.5)
    assert callback.min_delta == 0.5
