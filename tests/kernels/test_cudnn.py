"""kernels/cudnn.py without a GPU: the packing of Keras's weights into cuDNN's flat vector, and an
LSTM layer on the cuDNN path (forced on; off a GPU it runs `jax.experimental.rnn.lstm_ref` on the
same packed weights) against the reference scan over the cell's step function (fused path and
cuDNN off), values and gradients, over masks, go_backwards, initial and stateful states."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import rnn

import lstmkit.layers as L
from lstmkit.kernels import cudnn, fused

B, T, D, U = 4, 5, 3, 2


def test_pack_unpack_round_trip_and_cudnn_layout():
    rng = np.random.default_rng(0)
    k, r, b = (rng.normal(size=s).astype("float32") for s in [(D, 4 * U), (U, 4 * U), (4 * U,)])
    w = cudnn.pack_weights(k, r, b)
    assert w.shape == (rnn.get_num_params_in_lstm(D, U, 1, False),)
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(w, D, U, 1, False)  # JAX's own reading
    np.testing.assert_array_equal(w_ih[0], k.T)  # (4u, in): rows i, f, g, o = Keras's i, f, c, o
    np.testing.assert_array_equal(w_hh[0], r.T)
    np.testing.assert_array_equal(b_ih[0], b)
    np.testing.assert_array_equal(b_hh[0], 0.0)
    for got, want in zip(cudnn.unpack_weights(w, D, U), (k, r, b)):
        np.testing.assert_array_equal(got, want)


def _masks() -> dict:
    lengths = np.array([5, 3, 1, 0])  # a full row, padded rows, a row with no step at all
    right = np.arange(T)[None, :] < lengths[:, None]
    return {"none": None, "right": right, "left": right[:, ::-1].copy()}


# (mask, zero_output_for_mask, return_sequences, initial_state, stateful); each case runs a
# forward and a go_backwards layer
CASES = [
    ("none", False, False, True, False),
    ("right", False, True, False, True),
    ("right", True, True, True, False),
    ("left", False, True, False, False),  # not right-padded: the fused path at run time
]


def _run(layers, params, x, mask, init, stateful, mode):
    """Value and gradients (params, x, initial states) of a weighted sum of every output of
    both layers."""
    cudnn.set_mode(mode)
    fused.set_enabled(mode == "on")  # off: the reference scan, the truth
    rng = np.random.default_rng(1)
    try:

        def loss(p, x_, s0):
            kw = {} if stateful else {"initial_state": s0}
            state = {"states": s0} if stateful else {}
            leaves = []
            for layer in layers:
                outs, new_state = layer.apply(p, state, x_, mask=mask, **kw)
                leaves += jax.tree_util.tree_leaves((outs, new_state))
            ws = [jnp.asarray(rng.normal(size=v.shape), v.dtype) for v in leaves]
            return sum(jnp.sum(w * v) for w, v in zip(ws, leaves)), leaves

        (val, outs), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True))(
            params, x, init
        )
        return outs, grads
    finally:
        cudnn.set_mode("auto")
        fused.set_enabled(True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_cudnn_path_matches_reference_scan(case):
    mask_name, zero_out, seqs, given_init, stateful = case
    layers = [L.LSTM(U, return_sequences=seqs, return_state=True, go_backwards=back,
                     zero_output_for_mask=zero_out) for back in (False, True)]  # fmt: skip
    for layer in layers:
        layer.build((B, T, D))
    rng = np.random.default_rng(2)
    params = jax.tree_util.tree_map(
        lambda v: jnp.asarray(rng.normal(size=v.shape) * 0.5, jnp.float32), layers[0].params
    )
    x = jnp.asarray(rng.normal(size=(B, T, D)), jnp.float32)
    init = [jnp.asarray(rng.normal(size=(B, U)) * (1.0 if given_init or stateful else 0.0),
                        jnp.float32) for _ in range(2)]  # fmt: skip
    mask = _masks()[mask_name]
    mask = None if mask is None else jnp.asarray(mask)
    got, got_g = _run(layers, params, x, mask, init, stateful, "on")
    want, want_g = _run(layers, params, x, mask, init, stateful, "off")
    leaves = jax.tree_util.tree_leaves
    for g, w in zip(leaves((got, got_g)), leaves((want, want_g))):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_dispatch(monkeypatch):
    """cuDNN runs only for a plain LSTM: not GRU, recurrent dropout, use_cudnn=False, other
    activations, or (mode "auto") off a GPU."""
    calls = []
    real = cudnn._run
    monkeypatch.setattr(cudnn, "_run", lambda *a: calls.append(1) or real(*a))
    x = np.ones((2, 3, 4), "float32")

    def ran(layer, mode="on", training=False):
        """Whether cuDNN's wrapper runs (traced only: the dispatch happens while tracing)."""
        calls.clear()
        cudnn.set_mode(mode)
        try:
            layer.build(x.shape)
            key = jax.random.key(0) if training else None
            jax.eval_shape(lambda p: layer.apply(p, {}, x, training=training, key=key),
                           layer.params)  # fmt: skip
        finally:
            cudnn.set_mode("auto")
        return bool(calls)

    assert ran(L.LSTM(2))
    assert ran(L.LSTM(2, dropout=0.3), training=True)  # input dropout: one mask, applied before
    assert ran(L.LSTM(2), mode="auto") == cudnn.gpu_available()  # on a CUDA GPU only
    assert not ran(L.LSTM(2), mode="off")
    assert not ran(L.GRU(2))
    assert not ran(L.LSTM(2, use_cudnn=False))
    assert not ran(L.LSTM(2, recurrent_dropout=0.3), training=True)
    assert not ran(L.LSTM(2, activation="relu"))
    assert not ran(L.LSTM(2, use_bias=False))
    assert not ran(L.LSTM(2, unroll=True))
    with pytest.raises(ValueError, match="use_cudnn"):
        L.LSTM(2, use_cudnn="yes")
