"""kernels/fused.py against the reference: `rnn_scan` over the step functions of
kernels/recurrent.py, differentiated by autodiff. Values and gradients (inputs, initial states,
kernel, recurrent_kernel, bias) over a sweep of cells, masks and layer options."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lstmkit.layers as L
from lstmkit.kernels import activations, fused
from lstmkit.kernels import recurrent as rec

CELLS = {  # name: (kind, gates, reset_after)
    "lstm": ("lstm", 4, True),
    "gru": ("gru", 3, True),
    "gru_v1": ("gru", 3, False),
    "simple": ("simple", 1, True),
}


def make_masks(batch: int, time: int) -> dict[str, np.ndarray | None]:
    rng = np.random.default_rng(7)
    lengths = np.maximum(1, time - np.arange(batch) % time)
    right = np.arange(time)[None, :] < lengths[:, None]
    random = rng.random((batch, time)) < 0.6
    random[0, 0] = False  # a row that starts masked
    if batch > 2:
        random[-1] = False  # a row masked everywhere
    return {"none": None, "right": right, "left": right[:, ::-1].copy(), "random": random}


def make_weights(kind, gates, reset_after, features, units, dtype, use_bias=True, seed=0):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(features, gates * units)) * 0.4
    recurrent = rng.normal(size=(units, gates * units)) * 0.4
    bias_shape = (2, gates * units) if kind == "gru" and reset_after else (gates * units,)
    params = {"kernel": kernel, "recurrent_kernel": recurrent}
    if use_bias:
        params["bias"] = rng.normal(size=bias_shape) * 0.3
    return {k: jnp.asarray(v, dtype) for k, v in params.items()}


def reference(spec, params, x, init, **kw):
    """rnn_scan over the reference steps of kernels/recurrent.py."""
    b = params.get("bias")
    b_in, b_rec = (
        (b[0], b[1]) if spec.kind == "gru" and spec.reset_after and b is not None else (b, None)
    )
    gates = params["kernel"].shape[1] // params["recurrent_kernel"].shape[0]
    z = rec.input_projection(x, params["kernel"], b_in, gates)  # (batch, time, g*units)
    u, act, ract = params["recurrent_kernel"], spec.activation, spec.recurrent_activation
    if spec.kind == "lstm":
        step = lambda z_t, s: rec.lstm_step(z_t, s, u, act, ract)  # noqa: E731
    elif spec.kind == "gru":
        step = lambda z_t, s: rec.gru_step(z_t, s, u, b_rec, act, ract, spec.reset_after)  # noqa: E731
    else:
        step = lambda z_t, s: rec.simple_step(z_t, s, u, act)  # noqa: E731
    return rec.rnn_scan(step, z, init, **kw)


def check(name, mask_name, go_backwards, return_sequences, zero_output, with_init,
          batch=4, time=5, features=3, units=4, dtype=jnp.float32, act="tanh",
          rec_act="sigmoid", use_bias=True, atol=2e-5):  # fmt: skip
    kind, gates, reset_after = CELLS[name]
    spec = fused.CellSpec(kind, activations.get(act), activations.get(rec_act), reset_after)
    rng = np.random.default_rng(1)
    params = make_weights(kind, gates, reset_after, features, units, dtype, use_bias)
    x = jnp.asarray(rng.normal(size=(batch, time, features)), dtype)
    n_states = 2 if kind == "lstm" else 1
    init = [
        jnp.asarray(rng.normal(size=(batch, units)) * with_init, dtype) for _ in range(n_states)
    ]
    mask = make_masks(batch, time)[mask_name]
    kw = dict(mask=None if mask is None else jnp.asarray(mask), go_backwards=go_backwards,
              zero_output_for_mask=zero_output, return_sequences=return_sequences)  # fmt: skip
    seq_w = jnp.asarray(rng.normal(size=(batch, time, units)), dtype)
    last_w = jnp.asarray(rng.normal(size=(batch, units)), dtype)
    state_w = [jnp.asarray(rng.normal(size=(batch, units)), dtype) for _ in range(n_states)]

    def loss(run, params, x, init):
        last, seq, final = run(spec, params, x, init, **kw)
        total = jnp.sum(last * last_w) + sum(jnp.sum(s * w) for s, w in zip(final, state_w))
        if return_sequences:
            total = total + jnp.sum(jnp.tanh(seq) * seq_w)
        return total, (last, seq, final)

    def run_fused(spec, params, x, init, **kw):
        return fused.fused_rnn(spec, x, params["kernel"], params.get("bias"),
                               params["recurrent_kernel"], init, **kw)  # fmt: skip

    grad = lambda run: jax.jit(jax.value_and_grad(loss, argnums=(1, 2, 3), has_aux=True),  # noqa: E731
                               static_argnums=0)(run, params, x, init)  # fmt: skip
    (_, got), d_got = grad(run_fused)
    (_, want), d_want = grad(reference)
    flat_got, flat_want = (
        jax.tree_util.tree_leaves((got, d_got)),
        jax.tree_util.tree_leaves((want, d_want)),
    )
    assert len(flat_got) == len(flat_want)
    for g, w in zip(flat_got, flat_want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=atol, rtol=atol)


# Every cell with every mask; the layer options cycle so that each meets each value of the others.
OPTIONS = list(itertools.product([False, True], repeat=4))  # go_back, return_seq, zero_out, init
SWEEP = [
    (name, mask, *OPTIONS[(i * 5 + j * 3) % len(OPTIONS)])
    for i, name in enumerate(CELLS)
    for j, mask in enumerate(["none", "right", "left", "random"])
] + [(name, "random", *opt) for name in ("lstm", "gru") for opt in OPTIONS[::5]]


@pytest.mark.parametrize("name,mask,go_backwards,return_sequences,zero_output,with_init", SWEEP)
def test_fused_matches_reference(
    name, mask, go_backwards, return_sequences, zero_output, with_init
):
    check(name, mask, go_backwards, return_sequences, zero_output, with_init)


@pytest.mark.parametrize("name", ["lstm", "gru_v1"])
@pytest.mark.parametrize("batch,time", [(1, 5), (4, 1), (1, 1)])
def test_batch_one_and_time_one(name, batch, time):
    check(name, "right", False, True, False, True, batch=batch, time=time)


@pytest.mark.parametrize("name", ["lstm", "gru", "gru_v1"])
def test_float64_tight(name):
    with jax.enable_x64(True):
        check(name, "random", True, True, True, True, dtype=jnp.float64, atol=1e-11)


@pytest.mark.parametrize("name,act,rec_act", [("lstm", "relu", "hard_sigmoid"),
                                               ("gru", "sigmoid", "tanh"),
                                               ("simple", "relu", "sigmoid")])  # fmt: skip
def test_other_activations_and_no_bias(name, act, rec_act):
    check(name, "left", False, True, False, True, act=act, rec_act=rec_act, use_bias=False)


# ----- the layers dispatch to it, and it is invisible in their numbers ----------------------------
@pytest.mark.parametrize("make", [
    lambda: L.LSTM(4, return_sequences=True),
    lambda: L.GRU(4, return_sequences=True, go_backwards=True),
    lambda: L.GRU(4, reset_after=False, return_state=True),
    lambda: L.SimpleRNN(4, return_sequences=True, zero_output_for_mask=True),
    lambda: L.LSTM(4, dropout=0.3, return_sequences=True),
])  # fmt: skip
def test_layers_equal_with_and_without_fused(make):
    layer = make()
    x = jnp.asarray(np.random.default_rng(2).normal(size=(3, 5, 2)), jnp.float32)
    mask = jnp.asarray(make_masks(3, 5)["random"])
    layer.maybe_build(x.shape)
    key = jax.random.key(0)
    training = layer.cell.dropout > 0
    fused_out = layer.apply(layer.params, layer.state, x, mask=mask, training=training, key=key)[0]
    fused.set_enabled(False)
    try:
        ref_out = layer.apply(layer.params, layer.state, x, mask=mask, training=training, key=key)[
            0
        ]
    finally:
        fused.set_enabled(True)
    for g, w in zip(jax.tree_util.tree_leaves(fused_out), jax.tree_util.tree_leaves(ref_out)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)


def test_layer_dispatches_to_fused(monkeypatch):
    calls = []
    original = fused.fused_rnn
    monkeypatch.setattr(fused, "fused_rnn", lambda *a, **k: calls.append(1) or original(*a, **k))
    layer = L.LSTM(3)
    layer(np.zeros((2, 4, 5), np.float32))
    assert calls, "a plain LSTM did not take the fused path"
    calls.clear()
    L.LSTM(3, recurrent_dropout=0.5)(np.zeros((2, 4, 5), np.float32), training=True)
    assert not calls, "recurrent dropout must fall back to the reference scan"
