"""An LSTM under "mixed_bfloat16" carries its cell state in float32 (lstmkit.mixed_precision):
over a long sequence with a forget gate near 1 it tracks a float64 NumPy reference of the same
bfloat16 products, where a bfloat16 cell state (Keras's, and the "bfloat16" policy's) drifts far
off. Also the dtypes (outputs bfloat16, weights, gradients and loss float32), the fused path's
gradients against the reference scan's, and a short training run."""

from __future__ import annotations

import jax
import ml_dtypes
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L
from lstmkit import losses
from lstmkit import mixed_precision as mp
from lstmkit.kernels import fused

T, UNITS = 500, 4


def bf16(a) -> np.ndarray:
    """`a` rounded to bfloat16, as float64."""
    return np.asarray(a, np.float64).astype(ml_dtypes.bfloat16).astype(np.float64)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


@pytest.fixture(scope="module")
def long_task():
    """Inputs (2, 500, 1) and weights whose forget gate is sigmoid(~6) ~ 0.9975: each step adds
    ~0.01 to a cell state of magnitude ~5, less than half a bfloat16 unit in its last place, so
    a bfloat16 cell state stalls. x in {0.5, 1}, weights and biases multiples of 1/8 and no
    recurrent kernel: every pre-activation is a multiple of 1/16 below 8, exact in bfloat16, so
    the float64 reference needs no model of where XLA rounds the products."""
    rng = np.random.default_rng(0)
    u = UNITS
    x = rng.choice([0.5, 1.0], (2, T, 1)).astype(np.float32)
    kernel = rng.integers(-4, 5, (1, 4 * u)) / 8
    kernel[:, 2 * u : 3 * u] = rng.integers(0, 2, (1, u)) / 8  # the candidate: 0..1/8
    bias = np.concatenate([np.full(u, -1.0), np.full(u, 6.0), np.zeros(u), np.ones(u)])
    recurrent = np.zeros((u, 4 * u))
    c = np.zeros((2, u))
    hs = []
    for t in range(T):
        z = x[:, t] @ kernel + bias  # (batch, 4*units)
        assert np.array_equal(bf16(z), z)  # exact in bfloat16
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        hs.append(sigmoid(o) * np.tanh(c))
    weights = [a.astype(np.float32) for a in (kernel, recurrent, bias)]
    return x, weights, np.stack(hs, 1), c


def _run(policy: str, x, weights, stateful: bool = False):
    kwargs = dict(return_sequences=True, return_state=True, dtype=policy)
    if stateful:
        kwargs.update(stateful=True, batch_input_shape=x.shape)
    layer = L.LSTM(UNITS, **kwargs)
    layer.build(x.shape)
    layer.set_weights(weights)
    out, _, c = layer(x)
    return layer, np.asarray(out, np.float64), np.asarray(c, np.float64)


@pytest.mark.parametrize("fused_on", [True, False], ids=["fused", "reference_scan"])
def test_long_sequence_keeps_its_memory(long_task, fused_on):
    x, weights, h_ref, c_ref = long_task
    fused.set_enabled(fused_on)
    try:
        _, h, c = _run("mixed_bfloat16", x, weights)
    finally:
        fused.set_enabled(True)
    # The returned c and h are bfloat16 (Keras's dtype): within one rounding of the reference.
    np.testing.assert_allclose(c, c_ref, rtol=2**-8, atol=0)
    assert np.abs(h - h_ref).max() <= 2**-8  # |h| < 1: half a unit in the last place is 2**-9
    if not fused_on:
        return
    # A bfloat16 cell state (Keras's mixed_bfloat16 LSTM, or the "bfloat16" policy) drifts: off
    # by a large part of its magnitude, and h with it.
    _, h_bf, c_bf = _run("bfloat16", x, weights)
    assert np.abs(c_bf - c_ref).max() > 0.1 * np.abs(c_ref).max()
    assert np.abs(h_bf - h_ref).max() > 2**-6


def test_stateful_layer_stores_the_float32_cell_state(long_task):
    x, weights, h_ref, c_ref = long_task
    layer, _, _ = _run("mixed_bfloat16", x, weights, stateful=True)
    h_kept, c_kept = layer.states
    assert (str(h_kept.dtype), str(c_kept.dtype)) == ("bfloat16", "float32")
    # float32 precision, far inside bfloat16's 2**-8: the carry across batches keeps it.
    np.testing.assert_allclose(np.asarray(c_kept), c_ref, rtol=2e-4, atol=1e-4)
    layer.reset_state([np.ones((2, UNITS))] * 2)
    assert [str(s.dtype) for s in layer.states] == ["bfloat16", "float32"]


def test_float32_policy_unchanged(long_task):
    """Under float32 nothing is cast: the cell state is float32 as it always was."""
    x, weights, _, _ = long_task
    layer = L.LSTM(UNITS, return_state=True, stateful=True, batch_input_shape=(2, 5, 1))
    layer.build((2, 5, 1))
    layer.set_weights(weights)
    out, h, c = layer(x[:, :5])
    assert {str(a.dtype) for a in (out, h, c, *layer.states)} == {"float32"}


def _loss(layer, params, x, y):
    mask = np.arange(x.shape[1])[None, :] < np.array([[6], [4], [1]])  # (3, 6): masked steps
    out, _ = layer.apply(params, layer.state, x, mask=mask)
    return losses.get("mse")(y, out)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    y = rng.normal(size=(3, 6, 5)).astype("float32")
    return x, y


def test_dtypes_and_fused_gradients(small):
    x, y = small
    layer = L.LSTM(5, return_sequences=True, return_state=True, dtype="mixed_bfloat16")
    out, h, c = layer(x)
    assert {str(a.dtype) for a in (out, h, c)} == {"bfloat16"}  # Keras's output dtype
    assert {str(w.dtype) for w in layer.weights} == {"float32"}
    seq = L.LSTM(5, return_sequences=True, dtype="mixed_bfloat16")
    seq(x)
    seq.set_weights(layer.get_weights())
    grads = {}
    for on in (True, False):
        fused.set_enabled(on)
        try:
            loss, g = jax.jit(jax.value_and_grad(lambda p: _loss(seq, p, x, y)))(seq.params)
        finally:
            fused.set_enabled(True)
        assert str(loss.dtype) == "float32"  # the loss computes in float32, as Keras's
        leaves = jax.tree_util.tree_leaves(g)
        assert {str(a.dtype) for a in leaves} == {"float32"}
        grads[on] = leaves
    exact = L.LSTM(5, return_sequences=True, dtype="float32")  # the Keras-tested float32 path
    exact(x)
    exact.set_weights(layer.get_weights())
    g32 = jax.jit(jax.grad(lambda p: _loss(exact, p, x, y)))(exact.params)
    g32 = jax.tree_util.tree_leaves(g32)
    for a, b, c in zip(grads[True], grads[False], g32):  # the fused VJP, autodiff of the scan
        np.testing.assert_allclose(a, b, rtol=0.05, atol=0.02 * np.abs(b).max())
        np.testing.assert_allclose(a, c, rtol=0.05, atol=0.02 * np.abs(c).max())


def test_conv_lstm_carries_a_float32_cell_state():
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 2)).astype("float32")
    layer = L.ConvLSTM1D(2, 3, padding="same", return_state=True, stateful=True,
                         batch_input_shape=x.shape, dtype="mixed_bfloat16")  # fmt: skip
    out, h, c = layer(x)
    assert {str(a.dtype) for a in (out, h, c)} == {"bfloat16"}
    assert [str(s.dtype) for s in layer.states] == ["bfloat16", "float32"]


def test_bidirectional_keeps_the_policy():
    """Its copies of the layer kept float32 (get_config's dtype) and ran in float32; Keras's run
    in bfloat16."""
    layer = L.Bidirectional(L.LSTM(3, return_state=True, dtype="mixed_bfloat16"))
    out = layer(np.ones((2, 4, 2), "float32"))
    assert [str(a.dtype) for a in out] == ["bfloat16"] * 5
    assert layer.backward_layer.cell.dtype_policy.name == "mixed_bfloat16"


def test_streamer_carries_the_float32_cell_state():
    """A streamed mixed LSTM starts from the states' carried dtypes (it started from float32 h
    and c, which the first step turned to bfloat16: two compilations, a bfloat16 c)."""
    lstm = L.LSTM(3, return_sequences=True, dtype="mixed_bfloat16")
    model = lstmkit.Sequential([L.Input((None, 2)), lstm])
    streamer = model.stream(batch_size=2)
    before = [str(a.dtype) for a in streamer.states[lstm.name]]
    streamer.step(np.ones((2, 2), "float32"))
    assert before == [str(a.dtype) for a in streamer.states[lstm.name]] == ["bfloat16", "float32"]


def test_training_under_mixed_bfloat16_lowers_the_loss():
    mp.set_global_policy("mixed_bfloat16")
    try:
        model = lstmkit.Sequential([L.Input((8, 1)), L.LSTM(8), L.Dense(1, dtype="float32")])
    finally:
        mp.set_global_policy("float32")
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (64, 8, 1)).astype("float32")
    y = x.sum(1) / 4  # (64, 1)
    model.compile(optimizer=lstmkit.optimizers.Adam(0.03), loss="mse")
    history = model.fit(x, y, batch_size=32, epochs=10, verbose=0).history["loss"]
    assert history[-1] < 0.3 * history[0]
    assert {str(w.dtype) for w in model.get_weights()} == {"float32"}
