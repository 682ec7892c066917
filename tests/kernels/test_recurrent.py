"""ops/recurrent.py: the step functions against a float64 NumPy reference of the equations, and
gradients (of the scan, and of layers' pure `apply`) against central finite differences in float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import lstmkit.layers as L
from lstmkit.kernels import recurrent as rec

RNG = np.random.default_rng(3)
MASK = np.array([[1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1]], bool)  # right, left, middle
BATCH, TIME, FEATURES, UNITS = 3, 4, 2, 3


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def randn(*shape, scale=0.5):
    return RNG.normal(size=shape) * scale


# ----- the equations, once more in NumPy ---------------------------------------------------------
def test_lstm_step_matches_numpy():
    x, h, c = randn(2, 3), randn(2, 4), randn(2, 4)
    kernel, recurrent, bias = randn(3, 16), randn(4, 16), randn(16)
    z = x @ kernel + h @ recurrent + bias
    i, f, g, o = sigmoid(z[:, :4]), sigmoid(z[:, 4:8]), np.tanh(z[:, 8:12]), sigmoid(z[:, 12:])
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    x_proj = rec.input_projection(jnp.asarray(x[:, None], jnp.float32), kernel, bias, 4)[:, 0]
    out, (h_got, c_got) = rec.lstm_step(x_proj, [h, c], recurrent, jnp.tanh, jax.nn.sigmoid)
    np.testing.assert_allclose(out, h_new, atol=1e-5)
    np.testing.assert_allclose(h_got, h_new, atol=1e-5)
    np.testing.assert_allclose(c_got, c_new, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_step_matches_numpy(reset_after):
    x, h = randn(2, 3), randn(2, 4)
    kernel, recurrent = randn(3, 12), randn(4, 12)
    b_in, b_rec = randn(12), randn(12)
    xz = x @ kernel + b_in
    if reset_after:
        hz = h @ recurrent + b_rec
        z, r = sigmoid(xz[:, :4] + hz[:, :4]), sigmoid(xz[:, 4:8] + hz[:, 4:8])
        h_tilde = np.tanh(xz[:, 8:] + r * hz[:, 8:])
    else:
        hz = h @ recurrent[:, :8]
        z, r = sigmoid(xz[:, :4] + hz[:, :4]), sigmoid(xz[:, 4:8] + hz[:, 4:8])
        h_tilde = np.tanh(xz[:, 8:] + (r * h) @ recurrent[:, 8:])
    expected = z * h + (1 - z) * h_tilde
    out, (h_got,) = rec.gru_step(
        jnp.asarray(xz, jnp.float32), [jnp.asarray(h, jnp.float32)], recurrent,
        b_rec if reset_after else None, jnp.tanh, jax.nn.sigmoid, reset_after,
    )  # fmt: skip
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert out is h_got


def test_simple_step_matches_numpy():
    x_proj, h, recurrent = randn(2, 4), randn(2, 4), randn(4, 4)
    out, (h_got,) = rec.simple_step(jnp.asarray(x_proj), [jnp.asarray(h)], recurrent, jnp.tanh)
    np.testing.assert_allclose(out, np.tanh(x_proj + h @ recurrent), atol=1e-5)


def test_scan_masking_carries_states_and_repeats_outputs():
    """Masked steps: states unchanged, output = previous output (or zero)."""
    xs = jnp.asarray(randn(BATCH, TIME, UNITS))
    step = lambda x, s: (x + s[0], [x + s[0]])  # noqa: E731  running sum
    h0 = [jnp.asarray(randn(BATCH, UNITS))]
    for zero in (False, True):
        last, outs, (h,) = rec.rnn_scan(step, xs, h0, mask=jnp.asarray(MASK),
                                        zero_output_for_mask=zero)  # fmt: skip
        ref_h, ref_out = np.asarray(h0[0]), []
        for t in range(TIME):
            m = MASK[:, t, None]
            new = np.asarray(xs[:, t]) + ref_h
            ref_out.append(np.where(m, new, 0.0 if zero else ref_h))
            ref_h = np.where(m, new, ref_h)
        np.testing.assert_allclose(outs, np.stack(ref_out, 1), atol=1e-5)
        np.testing.assert_allclose(h, ref_h, atol=1e-5)
        np.testing.assert_allclose(last, ref_out[-1], atol=1e-5)


@pytest.mark.parametrize("unroll", [False, True, 2])
def test_scan_go_backwards_and_unroll(unroll):
    xs = jnp.asarray(randn(BATCH, TIME, UNITS))
    step = lambda x, s: (x + 2 * s[0], [x + 2 * s[0]])  # noqa: E731
    h0 = [jnp.zeros((BATCH, UNITS))]
    fwd = rec.rnn_scan(step, xs[:, ::-1], h0, mask=jnp.asarray(MASK[:, ::-1]))
    bwd = rec.rnn_scan(step, xs, h0, mask=jnp.asarray(MASK), go_backwards=True, unroll=unroll)
    for a, b in zip(jax.tree_util.tree_leaves(fwd), jax.tree_util.tree_leaves(bwd)):
        np.testing.assert_allclose(a, b, atol=1e-6)


# ----- gradients against central finite differences, float64 -------------------------------------
def assert_grad_matches_finite_differences(loss, args, eps=1e-6):
    """jax.grad of `loss(args)` (a pytree) against central differences on every coordinate."""
    flat, unravel = ravel_pytree(args)
    f = lambda v: loss(unravel(v))  # noqa: E731
    grad = np.asarray(jax.jit(jax.grad(f))(flat))
    steps = jnp.eye(flat.size, dtype=flat.dtype) * eps
    values = np.asarray(jax.jit(jax.vmap(f))(jnp.concatenate([flat + steps, flat - steps])))
    numeric = (values[: flat.size] - values[flat.size :]) / (2 * eps)
    assert flat.dtype == jnp.float64
    assert np.abs(grad).max() > 1e-3  # a gradient that is all zeros proves nothing
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def readout(tree):
    """A scalar that weighs every output element differently (fixed weights sin(1), sin(2), ...)."""
    leaves = jax.tree_util.tree_leaves(tree)
    weights = [np.sin(np.arange(1, a.size + 1)).reshape(a.shape) for a in leaves]
    return sum(jnp.sum(a * w) for a, w in zip(leaves, weights))


def step_for(cell):
    acts = (jnp.tanh, jax.nn.sigmoid)
    if cell == "lstm":
        return 4, 2, lambda p, x, s, m: rec.lstm_step(x, s, p["recurrent_kernel"], *acts, m)
    if cell == "simple":
        return 1, 1, lambda p, x, s, m: rec.simple_step(x, s, p["recurrent_kernel"], jnp.tanh, m)
    reset_after = cell == "gru"
    return 3, 1, lambda p, x, s, m: rec.gru_step(
        x, s, p["recurrent_kernel"], p["recurrent_bias"] if reset_after else None, *acts,
        reset_after, m,
    )  # fmt: skip


@pytest.mark.parametrize(
    "cell,go_backwards,zero_output",
    [("lstm", True, True), ("gru", False, False), ("gru_reset_before", True, False),
     ("simple", False, True)],
)  # fmt: skip
def test_scan_gradients_match_finite_differences(cell, go_backwards, zero_output):
    gates, n_states, step = step_for(cell)
    with jax.enable_x64(True):
        params = {
            "kernel": randn(FEATURES, gates * UNITS),
            "recurrent_kernel": randn(UNITS, gates * UNITS),
            "bias": randn(gates * UNITS),
            "recurrent_bias": randn(gates * UNITS),
        }
        args = {
            "params": jax.tree_util.tree_map(jnp.asarray, params),
            "x": jnp.asarray(randn(BATCH, TIME, FEATURES, scale=1.0)),
            "h0": [jnp.asarray(randn(BATCH, UNITS)) for _ in range(n_states)],
        }
        # Per-gate recurrent dropout masks, fixed: gradients flow through the masked product.
        rec_mask = (
            jnp.asarray(RNG.integers(0, 2, (gates, BATCH, UNITS)) * 2.0) if gates > 1 else None
        )

        def loss(a):
            p = a["params"]
            xs = rec.input_projection(a["x"], p["kernel"], p["bias"], gates)
            last, outs, states = rec.rnn_scan(
                lambda x, s: step(p, x, s, rec_mask), xs, a["h0"], mask=jnp.asarray(MASK),
                go_backwards=go_backwards, zero_output_for_mask=zero_output,
            )  # fmt: skip
            return readout([last, outs, states])

        assert_grad_matches_finite_differences(loss, args)


# The scan and steps are covered above; these add each layer's own plumbing (projection, GRU's
# bias split, stacked cells, Bidirectional's flip and merge).
LAYERS = {
    "lstm": lambda: L.LSTM(UNITS, return_sequences=True, return_state=True),
    "gru": lambda: L.GRU(UNITS, return_state=True, go_backwards=True),
    "stacked": lambda: L.RNN([L.LSTMCell(UNITS), L.GRUCell(2)], return_sequences=True),
    "bidirectional": lambda: L.Bidirectional(L.SimpleRNN(UNITS, return_sequences=True)),
}


@pytest.mark.parametrize("kind", LAYERS)
def test_layer_apply_gradients_match_finite_differences(kind):
    """d(outputs)/d(weights, inputs) of the pure `layer.apply`, in float64."""
    layer = LAYERS[kind]()
    x = randn(BATCH, TIME, FEATURES, scale=1.0).astype(np.float32)
    layer(x)
    layer.set_weights([randn(*w.shape).astype(np.float32) for w in layer.get_weights()])
    with jax.enable_x64(True):
        args = {
            "params": jax.tree_util.tree_map(lambda w: jnp.asarray(w, jnp.float64), layer.params),
            "x": jnp.asarray(x, jnp.float64),
        }

        def loss(a):
            out, _ = layer.apply(a["params"], layer.state, a["x"], mask=jnp.asarray(MASK))
            assert jax.tree_util.tree_leaves(out)[0].dtype == jnp.float64
            return readout(out)

        assert_grad_matches_finite_differences(loss, args)
