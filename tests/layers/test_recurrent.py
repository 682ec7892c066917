"""LSTM, GRU, SimpleRNN, RNN and the cells, against real Keras 3 (called eagerly, as a user would).

The option sweep lives in test_recurrent_sweep.py; this file checks the contracts one at a time:
cell calls, weight layout, unit_forget_bias, naming, stateful resets, the unroll corner cases,
and dropout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import lstmkit
import lstmkit.layers as L
from tests.layers import keras_twin
from tests.layers.keras_twin import ATOL, assert_same

RNG = np.random.default_rng(0)


def randn(*shape, scale=1.0):
    return keras_twin.randn(RNG, *shape, scale=scale)


def twin(make, x):
    """The same layer in Keras and lstmkit (`make(lib)`), both built for `x`, with Keras's
    weights randomised and copied into lstmkit."""
    theirs, ours = make(keras.layers), make(L)
    theirs.build(x.shape)
    ours(x)
    keras_twin.copy_random_weights(RNG, theirs, ours)
    if getattr(ours, "stateful", False):
        ours.reset_states()
    return ours, theirs


LAYERS = {
    "lstm": lambda lib, **kw: lib.LSTM(4, **kw),
    "gru": lambda lib, **kw: lib.GRU(4, **kw),
    "gru_reset_before": lambda lib, **kw: lib.GRU(4, reset_after=False, **kw),
    "simple_rnn": lambda lib, **kw: lib.SimpleRNN(4, **kw),
    "stacked": lambda lib, **kw: lib.RNN([lib.LSTMCell(4), lib.GRUCell(3)], **kw),
}


# ----- numbers against Keras, called eagerly -----------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
def test_matches_keras_with_mask_and_initial_state(kind):
    x = randn(3, 6, 5)
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 0, 1, 1, 0]], bool)
    make = lambda lib: LAYERS[kind](lib, return_sequences=True, return_state=True)  # noqa: E731
    ours, theirs = twin(make, x)
    sizes = {"lstm": [[4, 4]], "stacked": [[4, 4], [3]]}.get(kind, [[4]])
    init = [[randn(3, n) for n in cell] for cell in sizes]
    init = init if kind == "stacked" else init[0]
    assert_same(ours(x, mask=mask, initial_state=init), theirs(x, mask=mask, initial_state=init))


def test_stateful_three_calls_then_reset_equals_first():
    xs = [randn(2, 4, 3) for _ in range(3)]
    ours, theirs = twin(lambda lib: lib.LSTM(5, stateful=True, return_state=True), xs[0])
    outputs = []
    for x in xs:  # Keras called eagerly, state carried by its own variables
        outputs.append(ours(x))
        assert_same(outputs[-1], theirs(x))
    assert not np.allclose(np.asarray(outputs[0][0]), np.asarray(outputs[1][0]))
    ours.reset_states()
    theirs.reset_states()
    again = ours(xs[0])
    assert_same(again, outputs[0])
    assert_same(again, theirs(xs[0]))
    assert_same(ours(xs[1]), theirs(xs[1]))


def test_stateful_carries_state_row_by_row():
    """Batch k+1 starts from the final states of batch k, row by row."""
    a, b = randn(3, 4, 2), randn(3, 4, 2)
    stateful = L.LSTM(3, stateful=True, return_state=True)
    _, h, c = stateful(a)
    plain = L.LSTM(3)
    plain(a)
    plain.set_weights(stateful.get_weights())
    assert_same(stateful(b)[0], plain(b, initial_state=[h, c]))


# ----- cells -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell", "SimpleRNNCell"])
def test_cell_call_returns_output_that_is_first_state(name):
    x_t = randn(2, 3)
    n_states = 2 if name == "LSTMCell" else 1
    states = [randn(2, 4) for _ in range(n_states)]
    theirs, ours = getattr(keras.layers, name)(4), getattr(L, name)(4)
    theirs.build((2, 3))
    ours(x_t, [np.zeros((2, 4), np.float32)] * n_states)
    ours.set_weights([randn(*w.shape, scale=0.5) for w in theirs.get_weights()])
    theirs.set_weights(ours.get_weights())

    out, new_states = ours(x_t, states)
    assert isinstance(new_states, list) and len(new_states) == n_states
    assert out is new_states[0]
    assert_same([out, new_states], theirs(x_t, states))


def test_rnn_over_a_single_cell_equals_the_layer():
    x = randn(2, 5, 3)
    layer = L.LSTM(4, return_sequences=True)
    layer(x)
    rnn = L.RNN(L.LSTMCell(4), return_sequences=True)
    rnn(x)
    rnn.set_weights(layer.get_weights())
    assert_same(rnn(x), layer(x))


# ----- weights, naming ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LAYERS)
def test_get_weights_order_and_shapes_equal_keras(kind):
    x = randn(2, 3, 5)
    theirs, ours = LAYERS[kind](keras.layers), LAYERS[kind](L)
    theirs.build(x.shape)
    ours(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    # The params pytree names the weights as Keras does, in get_weights order.
    assert param_names(ours.params) == [v.path.rsplit("/", 1)[-1] for v in theirs.weights]


def param_names(params) -> list[str]:
    return [n for k, v in params.items() for n in (param_names(v) if isinstance(v, dict) else [k])]


@pytest.mark.parametrize("ufb", [True, False])
def test_unit_forget_bias_sets_the_forget_block_to_one(ufb):
    ours = L.LSTM(3, unit_forget_bias=ufb)
    ours(randn(1, 2, 2))
    bias = ours.get_weights()[2]
    expected = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0] if ufb else [0] * 12
    np.testing.assert_array_equal(bias, np.array(expected, np.float32))
    theirs = keras.layers.LSTM(3, unit_forget_bias=ufb)
    theirs.build((1, 2, 2))
    np.testing.assert_array_equal(bias, theirs.get_weights()[2])


def test_unit_forget_bias_with_another_bias_initializer():
    ours = L.LSTM(2, bias_initializer="ones")
    ours(randn(1, 2, 2))
    np.testing.assert_array_equal(ours.get_weights()[2], np.ones(8, np.float32))


def test_layer_names_follow_keras():
    def names(lib):
        layers = [lib.LSTM(2), lib.LSTM(2), lib.GRU(2), lib.LSTMCell(2), lib.SimpleRNN(2)]
        layers.append(lib.RNN([lib.LSTMCell(2), lib.GRUCell(2)]))
        layers.append(lib.LSTM(2, name="mine"))
        layers.append(lib.LSTM(2))
        return [lay.name for lay in layers] + [layers[0].cell.name]

    keras.backend.clear_session()
    lstmkit.backend.clear_session()
    ours, theirs = names(L), names(keras.layers)
    assert ours == theirs
    assert ours[:2] == ["lstm", "lstm_1"]


# ----- unroll: a speed knob, never a change of numbers -------------------------------------------
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
def test_unroll_gives_the_scan_numbers_in_keras_masked_corner_cases(zero_output_for_mask):
    """lstmkit's unroll=True runs the same scan, unrolled, so it always equals unroll=False.

    Keras's unrolled loop (backend/jax/rnn.py) differs from its own scan in two masked corner
    cases: a masked *first* step outputs zeros instead of the initial h, and
    `zero_output_for_mask` is ignored. lstmkit follows Keras's scan in both modes (the scan is
    Keras's default path and the one that honours the documented masking rule), so here
    lstmkit's unroll=True is compared with Keras's unroll=False.
    """
    x = randn(2, 4, 3)
    mask = np.array([[0, 1, 1, 0], [1, 1, 0, 1]], bool)  # row 0: first step masked
    init = [randn(2, 3), randn(2, 3)]  # nonzero initial h
    kw = {"return_sequences": True, "zero_output_for_mask": zero_output_for_mask}
    ours, theirs_scan = twin(lambda lib: lib.LSTM(3, **kw), x)
    ours_unrolled = L.LSTM(3, unroll=True, **kw)
    ours_unrolled(x)
    ours_unrolled.set_weights(ours.get_weights())
    theirs_unrolled = keras.layers.LSTM(3, unroll=True, **kw)
    theirs_unrolled.build(x.shape)
    theirs_unrolled.set_weights(ours.get_weights())

    call = {"mask": mask, "initial_state": init}
    reference = theirs_scan(x, **call)
    assert_same(ours_unrolled(x, **call), reference)
    assert_same(ours(x, **call), reference)
    # The deviation documented above; if this fails, Keras changed and the note can go.
    keras_unrolled = np.asarray(theirs_unrolled(x, **call))
    assert np.abs(keras_unrolled - np.asarray(reference)).max() > 1e-3


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_unroll_equals_scan_without_mask_in_keras_too(kind):
    x = randn(2, 4, 3)
    make = lambda lib: LAYERS[kind](lib, unroll=True, return_sequences=True)  # noqa: E731
    ours, theirs = twin(make, x)
    assert_same(ours(x), theirs(x))


# ----- dropout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_dropout_is_off_when_not_training(kind):
    x = randn(3, 5, 4)
    make = lambda lib: LAYERS[kind](lib, dropout=0.4, recurrent_dropout=0.3)  # noqa: E731
    ours, theirs = twin(make, x)
    assert_same(ours(x), theirs(x, training=False))
    assert_same(ours(x, training=False), theirs(x))


@pytest.mark.parametrize("cell_class,gates", [(L.LSTMCell, 4), (L.GRUCell, 3)])
def test_dropout_masks_keep_rate(cell_class, gates):
    """A fraction `rate` of input features (and of h) is zeroed, the rest scaled by 1/(1-rate);
    with recurrent dropout Keras draws one mask per gate."""
    cell = cell_class(8, dropout=0.3, recurrent_dropout=0.2)
    cell.maybe_build((None, 16))
    in_mask, rec_mask = cell.dropout_masks(jax.random.key(1), 500, 16, jnp.float32)
    for mask, rate, width in [(in_mask, 0.3, 16), (rec_mask, 0.2, 8)]:
        mask = np.asarray(mask)
        assert mask.shape == (gates, 500, width)
        np.testing.assert_allclose(np.unique(mask), [0.0, 1 / (1 - rate)], rtol=1e-6)
        assert abs((mask == 0).mean() - rate) < 0.02  # binomial std here is < 0.003
        assert not np.array_equal(mask[0], mask[1])  # the gates' masks are independent
    assert cell.dropout_masks(None, 500, 16, jnp.float32) == (None, None)


def identity_rnn(units, **kw):
    """SimpleRNN with identity kernels and no nonlinearity: h_t = x_t*m + (h_{t-1}*r) @ U."""
    layer = L.SimpleRNN(units, activation="linear", use_bias=False, return_sequences=True, **kw)
    layer(np.zeros((1, 1, units), np.float32))
    recurrent = np.eye(units) if kw.get("recurrent_dropout") else np.zeros((units, units))
    layer.set_weights([np.eye(units, dtype=np.float32), recurrent.astype(np.float32)])
    return layer


def test_input_dropout_mask_is_the_same_at_every_step():
    x = np.ones((200, 6, 10), np.float32)  # a constant sequence
    y = np.asarray(identity_rnn(10, dropout=0.5)(x, training=True))  # y_t = x_t * mask
    assert np.array_equal(y, np.broadcast_to(y[:, :1], y.shape))  # same columns every step
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs((y[:, 0] == 0).mean() - 0.5) < 0.05


def test_recurrent_dropout_mask_is_the_same_at_every_step():
    x = np.ones((200, 5, 10), np.float32)
    h = np.asarray(identity_rnn(10, recurrent_dropout=0.5)(x, training=True))
    # h_t = 1 + m * h_{t-1}: a dropped unit stays at 1 at every step, a kept one grows.
    dropped = np.all(h == 1.0, axis=1)  # (batch, units)
    kept = np.all(np.diff(h, axis=1) > 0, axis=1)
    assert np.all(dropped ^ kept)
    assert abs(dropped.mean() - 0.5) < 0.05


def test_dropout_is_active_only_in_training_and_differs_per_call():
    x = randn(4, 5, 3)
    layer = L.LSTM(6, dropout=0.5, recurrent_dropout=0.5)
    a, b, c = layer(x, training=True), layer(x, training=True), layer(x)
    assert not np.allclose(np.asarray(a), np.asarray(b))
    assert_same(c, layer(x, training=False))


def numpy_lstm(x, kernel, recurrent, bias, in_masks, rec_masks):
    """float64 NumPy LSTM with one dropout mask per gate (Keras's implementation 1)."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    ks, us, bs = np.split(kernel, 4, 1), np.split(recurrent, 4, 1), np.split(bias, 4)
    for t in range(x.shape[1]):
        z = [
            (x[:, t] * m) @ k + (h * r) @ u + b
            for m, r, k, u, b in zip(in_masks, rec_masks, ks, us, bs)
        ]
        i, f, g, o = sig(z[0]), sig(z[1]), np.tanh(z[2]), sig(z[3])
        c = f * c + i * g
        h = o * np.tanh(c)
    return h


def test_training_with_dropout_matches_a_reference_using_the_same_masks():
    x = randn(3, 5, 4)
    layer = L.LSTM(6, dropout=0.3, recurrent_dropout=0.4)
    layer(x)
    layer.set_weights([randn(*w.shape, scale=0.5) for w in layer.get_weights()])
    key = jax.random.key(7)
    y, _ = layer.apply(layer.params, layer.state, jnp.asarray(x), training=True, key=key)
    in_mask, rec_mask = layer.cell.dropout_masks(key, 3, 4, jnp.float32)
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    expected = numpy_lstm(x.astype(np.float64), *weights, np.asarray(in_mask), np.asarray(rec_mask))
    np.testing.assert_allclose(np.asarray(y), expected, rtol=0, atol=ATOL)


# ----- symbolic calls ----------------------------------------------------------------------------
def test_symbolic_stacked_cells_return_nested_states():
    """Stacked cells return [output, [h, c], [h]]: one symbolic tensor per array, as Keras, and
    a Model built on them gives the eager call's values."""
    make = lambda lib: lib.RNN(  # noqa: E731
        [lib.LSTMCell(3), lib.GRUCell(2)], return_sequences=True, return_state=True
    )
    ours, theirs = make(L), make(keras.layers)
    inputs = L.Input(shape=(5, 4))
    out = ours(inputs)
    assert [t.shape for t in keras_twin.flatten_symbolic(out)] == [
        tuple(t.shape) for t in keras_twin.flatten_symbolic(theirs(keras.Input(shape=(5, 4))))
    ]
    assert len(out) == 3 and len(out[1]) == 2 and len(out[2]) == 1
    x = randn(2, 5, 4)
    assert_same(lstmkit.models.Model(inputs, out)(x), ours(x))
