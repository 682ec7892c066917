"""kernels/native's GRU (gru_cpu.h through jax.ffi) against the reference: `rnn_scan` over the GRU
step of kernels/recurrent.py (reset_after=True), differentiated by autodiff. Values and gradients
(inputs, initial state, kernel, recurrent_kernel, both bias rows) over the masks and layer
options of test_native.py's sweep; the layer's dispatch and its fallbacks; the same bits with one
thread or two."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lstmkit.layers as L
from lstmkit.kernels import fused
from lstmkit.kernels import native as nat
from lstmkit.kernels.native import gru as native_gru_mod
from tests.kernels.test_fused import make_masks, make_weights, reference
from tests.kernels.test_native import GRU_SPEC, SWEEP
from tests.kernels.test_native import check as native_check

pytestmark = pytest.mark.skipif(
    jax.default_backend() != "cpu" or not nat.available(),
    reason="the native kernels run on CPU, and need a C++ compiler",
)

check = partial(native_check, kind="gru")  # test_native.py's, for the GRU's operands


@pytest.mark.parametrize("mask,go_backwards,return_sequences,zero_output,with_init", SWEEP)
def test_native_gru_matches_reference(mask, go_backwards, return_sequences, zero_output,
                                      with_init):  # fmt: skip
    check(mask, go_backwards, return_sequences, zero_output, with_init)


@pytest.mark.parametrize("batch,time", [(1, 6), (5, 1), (2, 4)])
def test_batch_one_and_time_one(batch, time):
    check("right", False, True, False, True, batch=batch, time=time)


def test_no_bias_and_wider_units():  # 21 units: a panel of 16 and one of 5
    check("random", True, True, False, True, units=21, features=7, use_bias=False)


# Shapes that take each way of sharing the work between two threads: (26, ...) each thread its
# rows for the whole loop; (5, ...) each step's panels (units) split; (2, 40, ...) a [W; U] too
# large for L2, its panels split at every step.
SPLITS = [(26, 6, 9, 40), (5, 4, 30, 200), (2, 6, 300, 700)]


@pytest.mark.parametrize("batch,time,features,units", SPLITS)
def test_work_split_between_threads_matches_reference(batch, time, features, units):
    """Sums over hundreds of terms: the float32 kernel and the float32 reference are each near a
    float64 reference, not within a fixed 1e-5 of each other (700 units: both ~1e-3 off). So
    each gradient is held to three times the float32 reference's own distance from float64."""
    rng = np.random.default_rng(1)
    params = make_weights("gru", 3, True, features, units, jnp.float32, True)
    x = rng.normal(size=(batch, time, features))
    init = rng.normal(size=(batch, units))
    kw = dict(mask=jnp.asarray(make_masks(batch, time)["random"]), go_backwards=True,
              zero_output_for_mask=True, return_sequences=True)  # fmt: skip
    seq_w = rng.normal(size=(batch, time, units))

    def grads(run, params, x, init):
        def loss(params, x, init):
            _, seq, final = run(params, x, [init])
            return jnp.sum(jnp.tanh(seq) * seq_w.astype(seq.dtype)) + jnp.sum(final[0])

        return jax.tree_util.tree_leaves(jax.grad(loss, argnums=(0, 1, 2))(params, x, init))

    def native(p, x, init):
        return nat.native_gru(x, p["kernel"], p["bias"], p["recurrent_kernel"], init, **kw)

    def ref(p, x, init):
        return reference(GRU_SPEC, p, x, init, **kw)

    x32, init32 = jnp.asarray(x, jnp.float32), jnp.asarray(init, jnp.float32)
    got, ref32 = grads(native, params, x32, init32), grads(ref, params, x32, init32)
    with jax.enable_x64(True):
        p64 = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
        ref64 = [np.asarray(g) for g in grads(ref, p64, jnp.asarray(x), jnp.asarray(init))]
    for g, r, w in zip(got, ref32, ref64):
        own = np.abs(np.asarray(r, np.float64) - w).max()
        assert np.abs(np.asarray(g, np.float64) - w).max() <= 3 * own + 1e-6


# ----- the layer dispatches to it where the semantics allow, and falls back elsewhere -----------
def _spy(monkeypatch) -> list:
    calls = []
    original = native_gru_mod.native_gru
    monkeypatch.setattr(
        native_gru_mod, "native_gru", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    return calls


@pytest.mark.parametrize("make,shape,native", [
    (lambda: L.GRU(4, return_sequences=True), (3, 5, 2), True),
    (lambda: L.GRU(4, use_bias=False, go_backwards=True, return_state=True), (3, 5, 2), True),
    (lambda: L.GRU(4, dropout=0.3, return_sequences=True), (3, 5, 2), True),  # one input mask
    (lambda: L.GRU(4, reset_after=False), (3, 5, 2), False),
    (lambda: L.GRU(4, activation="relu"), (3, 5, 2), False),
    (lambda: L.GRU(4, recurrent_activation="hard_sigmoid"), (3, 5, 2), False),
    (lambda: L.GRU(4, recurrent_dropout=0.3), (3, 5, 2), False),
    (lambda: L.GRU(4, return_sequences=True), (1, 1, 2), False),  # a streamed step: XLA's scan
])  # fmt: skip
def test_layer_dispatch_and_values(monkeypatch, make, shape, native):
    calls = _spy(monkeypatch)
    layer = make()
    x = jnp.asarray(np.random.default_rng(2).normal(size=shape), jnp.float32)
    mask = jnp.asarray(make_masks(*shape[:2])["random"])
    layer.maybe_build(x.shape)
    key, training = jax.random.key(0), True
    got = layer.apply(layer.params, layer.state, x, mask=mask, training=training, key=key)[0]
    assert bool(calls) == native
    fused.set_enabled(False)  # the reference scan
    try:
        want = layer.apply(layer.params, layer.state, x, mask=mask, training=training, key=key)[0]
    finally:
        fused.set_enabled(True)
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)


def test_a_program_lowered_for_a_gpu_has_no_native_call():
    layer = L.GRU(4, return_sequences=True)
    x = jnp.ones((2, 5, 3))
    layer.maybe_build(x.shape)
    step = jax.jit(jax.grad(lambda p: jnp.sum(layer.apply(p, layer.state, x)[0])))
    text = jax.export.export(step, platforms=["cuda"])(layer.params).mlir_module()
    assert "lstmkit_gru" not in text
    cpu_text = step.lower(layer.params).as_text()
    assert "lstmkit_gru_fwd" in cpu_text and "lstmkit_gru_bwd" in cpu_text


def threads_case() -> np.ndarray:
    """Outputs and all gradients at the shapes whose work is split between threads."""
    out = []
    for batch, time, features, units in SPLITS:
        rng = np.random.default_rng(7)
        params = make_weights("gru", 3, True, features, units, jnp.float32, True)
        x = jnp.asarray(rng.normal(size=(batch, time, features)), jnp.float32)
        init = [jnp.zeros((batch, units), jnp.float32)]

        def loss(kernel, bias, recurrent_kernel, x, init=init):
            _, seq, _ = nat.native_gru(x, kernel, bias, recurrent_kernel, init)
            return jnp.sum(jnp.tanh(seq)), seq

        args = (params["kernel"], params["bias"], params["recurrent_kernel"], x)
        (_, seq), grads = jax.value_and_grad(loss, argnums=(0, 1, 2, 3), has_aux=True)(*args)
        out += [np.ravel(seq), *(np.ravel(g) for g in grads)]
    return np.concatenate(out)


ONE_THREAD = textwrap.dedent("""
    import sys, numpy as np
    from tests.kernels.test_native_gru import threads_case
    np.save(sys.argv[1], threads_case())
""")


def test_one_thread_or_two_give_the_same_bits(tmp_path):
    env = {**os.environ, "LSTMKIT_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", ONE_THREAD, str(tmp_path / "one.npy")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), threads_case())
