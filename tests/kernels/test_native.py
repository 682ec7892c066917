"""kernels/native (the C++ LSTM through jax.ffi) against the reference: `rnn_scan` over the LSTM
step of kernels/recurrent.py, differentiated by autodiff (the reference test_fused.py checks in
float64). Values and gradients (inputs, initial states, kernel, recurrent_kernel, bias) over a
sweep of masks and layer options; dispatch, fallback, the compile cache."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lstmkit.layers as L
from lstmkit.kernels import activations, fused
from lstmkit.kernels import native as nat
from lstmkit.kernels.native import build
from lstmkit.kernels.native import lstm as native_lstm_mod
from tests.kernels.test_fused import make_masks, make_weights, reference

pytestmark = pytest.mark.skipif(
    jax.default_backend() != "cpu" or not nat.available(),
    reason="the native kernels run on CPU, and need a C++ compiler",
)

SPEC = fused.CellSpec("lstm", activations.tanh, activations.sigmoid)
GRU_SPEC = fused.CellSpec("gru", activations.tanh, activations.sigmoid, True)
# kind: (gates, carried states, the native layer function, the reference's cell)
KINDS = {"lstm": (4, 2, nat.native_lstm, SPEC), "gru": (3, 1, nat.native_gru, GRU_SPEC)}


def check(mask_name, go_backwards, return_sequences, zero_output, with_init, batch=4, time=5,
          features=3, units=4, use_bias=True, atol=1e-5, kind="lstm"):  # fmt: skip
    """The native kernel of `kind` ("lstm" or "gru", reset_after) against the reference scan:
    outputs, final states and every gradient."""
    gates, n_states, native, spec = KINDS[kind]
    rng = np.random.default_rng(1)
    params = make_weights(kind, gates, True, features, units, jnp.float32, use_bias)
    x = jnp.asarray(rng.normal(size=(batch, time, features)), jnp.float32)
    init = [jnp.asarray(rng.normal(size=(batch, units)) * with_init, jnp.float32)] * 2
    init[1] = init[1] * 0.7 + 0.1 * with_init
    init = init[:n_states]
    mask = make_masks(batch, time)[mask_name]
    kw = dict(mask=None if mask is None else jnp.asarray(mask), go_backwards=go_backwards,
              zero_output_for_mask=zero_output, return_sequences=return_sequences)  # fmt: skip
    seq_w = jnp.asarray(rng.normal(size=(batch, time, units)), jnp.float32)
    last_w = jnp.asarray(rng.normal(size=(batch, units)), jnp.float32)
    state_w = [jnp.asarray(rng.normal(size=(batch, units)), jnp.float32) for _ in init]

    def loss(run, params, x, init):
        last, seq, final = run(params, x, init)
        total = jnp.sum(last * last_w) + sum(jnp.sum(s * w) for s, w in zip(final, state_w))
        if return_sequences:
            total = total + jnp.sum(jnp.tanh(seq) * seq_w)
        return total, (last, seq, final)

    def run_native(params, x, init):
        return native(x, params["kernel"], params.get("bias"), params["recurrent_kernel"], init,
                      **kw)  # fmt: skip

    def run_reference(params, x, init):
        return reference(spec, params, x, init, **kw)

    def grad(run):
        return jax.jit(jax.value_and_grad(loss, argnums=(1, 2, 3), has_aux=True),
                       static_argnums=0)(run, params, x, init)  # fmt: skip

    (_, got), d_got = grad(run_native)
    (_, want), d_want = grad(run_reference)
    flat_got, flat_want = (
        jax.tree_util.tree_leaves((got, d_got)),
        jax.tree_util.tree_leaves((want, d_want)),
    )
    assert len(flat_got) == len(flat_want)
    for g, w in zip(flat_got, flat_want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=atol, rtol=atol)


# (mask, go_backwards, return_sequences, zero_output, with_init): every mask meets every option.
SWEEP = [
    ("none", False, True, False, False),
    ("none", True, False, False, True),
    ("right", False, True, True, True),
    ("right", True, True, False, False),
    ("left", False, False, True, False),
    ("left", True, True, True, True),
    ("random", False, True, False, True),  # random holds a row masked everywhere
    ("random", True, True, True, False),
    ("random", False, False, True, True),
]


@pytest.mark.parametrize("mask,go_backwards,return_sequences,zero_output,with_init", SWEEP)
def test_native_matches_reference(mask, go_backwards, return_sequences, zero_output, with_init):
    check(mask, go_backwards, return_sequences, zero_output, with_init)


@pytest.mark.parametrize("batch,time", [(1, 6), (5, 1), (1, 1), (4, 3)])
def test_batch_one_and_time_one(batch, time):  # matrix-vector loops below 4 steps of few rows
    check("right", False, True, False, True, batch=batch, time=time)


@pytest.mark.parametrize("zero_output", [False, True])
def test_streamed_steps_with_masked_rows(zero_output):  # 2 x 2: matrix-vector path, rows carried
    check("random", False, True, zero_output, True, batch=2, time=2, units=21)


def test_no_bias_and_wider_units():
    check("random", True, True, False, True, units=21, features=7, use_bias=False)


# ----- the layer dispatches to it where the semantics allow, and falls back elsewhere -----------
def _spy(monkeypatch) -> list:
    calls = []
    original = native_lstm_mod.native_lstm
    monkeypatch.setattr(
        native_lstm_mod, "native_lstm", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    return calls


@pytest.mark.parametrize("make,native", [
    (lambda: L.LSTM(4, return_sequences=True, unit_forget_bias=True), True),
    (lambda: L.LSTM(4, use_bias=False, go_backwards=True, return_state=True), True),
    (lambda: L.LSTM(4, dropout=0.3, return_sequences=True), True),  # one input mask per step
    (lambda: L.LSTM(4, activation="relu"), False),
    (lambda: L.LSTM(4, recurrent_activation="hard_sigmoid"), False),
    (lambda: L.LSTM(4, recurrent_dropout=0.3), False),
])  # fmt: skip
def test_layer_dispatch_and_values(monkeypatch, make, native):
    calls = _spy(monkeypatch)
    layer = make()
    x = jnp.asarray(np.random.default_rng(2).normal(size=(3, 5, 2)), jnp.float32)
    mask = jnp.asarray(make_masks(3, 5)["random"])
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


def test_float64_falls_back():
    layer = L.LSTM(3)
    layer.maybe_build((2, 4, 5))
    params = layer.params["cell"]
    x = np.ones((2, 4, 5), np.float32)
    init = [jnp.zeros((2, 3))] * 2
    assert native_lstm_mod.applies(layer.cell, params, x, init)
    with jax.enable_x64(True):
        assert not native_lstm_mod.applies(layer.cell, params, x.astype(np.float64), init)
        wide = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
        assert not native_lstm_mod.applies(layer.cell, wide, x, init)


def test_a_program_lowered_for_a_gpu_has_no_native_call():
    layer = L.LSTM(4, return_sequences=True)
    x = jnp.ones((2, 5, 3))
    layer.maybe_build(x.shape)
    step = jax.jit(jax.grad(lambda p: jnp.sum(layer.apply(p, layer.state, x)[0])))
    text = jax.export.export(step, platforms=["cuda"])(layer.params).mlir_module()
    assert "custom_call" not in text or "lstmkit_lstm" not in text
    cpu_text = step.lower(layer.params).as_text()
    assert "lstmkit_lstm_fwd" in cpu_text and "lstmkit_lstm_bwd" in cpu_text


@pytest.mark.parametrize("make, target, gates", [(L.LSTM, "lstmkit_lstm_bwd", 4),
                                                  (L.GRU, "lstmkit_gru_bwd", 3)])  # fmt: skip
def test_backward_writes_over_the_saved_gates(make, target, gates):
    # The gates' gradient takes the saved gates' buffer: no new (batch, time, gates * units)
    # array, and no copy of the gates for it (XLA would add one if the buffer were still needed).
    layer = make(4, return_sequences=True)
    x = jnp.ones((2, 5, 3))
    layer.maybe_build(x.shape)
    step = jax.jit(jax.grad(lambda p: jnp.sum(layer.apply(p, layer.state, x)[0] ** 2)))
    hlo = step.lower(layer.params).compile().as_text()
    call = [line for line in hlo.splitlines() if target in line and "custom-call(" in line]
    assert len(call) == 1 and "output_to_operand_aliasing={{0}: (3, {})}" in call[0]
    assert f"f32[2,5,{gates * 4}]{{2,1,0}} copy(" not in hlo


def test_switch_off(monkeypatch):
    calls = _spy(monkeypatch)
    build.set_enabled(False)
    try:
        L.LSTM(3)(np.zeros((2, 4, 5), np.float32))
    finally:
        build.set_enabled(True)
    assert not calls


def test_vmap_and_stateful_stack():
    layer = L.LSTM(4, return_sequences=True)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 3, 5, 2)), jnp.float32)
    layer.maybe_build(x.shape[1:])
    run = lambda xi: layer.apply(layer.params, layer.state, xi)[0]  # noqa: E731
    batched = jax.jit(jax.vmap(run))(x)
    for i in range(2):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(run(x[i])), atol=1e-6)


# ----- fallback when the library cannot be built; the compile cache -----------------------------
FALLBACK = textwrap.dedent("""
    import logging, numpy as np
    logging.basicConfig()
    import lstmkit.layers as L
    from lstmkit.kernels import fused
    from lstmkit.kernels.native import build
    layer = L.LSTM(3, return_sequences=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    got = [np.asarray(layer(x)), np.asarray(L.LSTM(2)(x))]
    fused.set_enabled(False)
    want = np.asarray(layer(x))
    assert not build.available() and "nonexistent" in build.last_error()
    print("MAXDIFF", float(np.abs(got[0] - want).max()))
""")


def test_compile_failure_falls_back_with_one_warning(tmp_path):
    env = {**os.environ, "LSTMKIT_CXX": str(tmp_path / "nonexistent-c++"),
           "LSTMKIT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": os.getcwd()}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", FALLBACK], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("native CPU kernels unavailable") == 1, done.stderr
    assert float(done.stdout.split("MAXDIFF")[1]) < 1e-6


TINY = 'extern "C" int lstmkit_answer() { return 42; }\n'


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    source = tmp_path / "tiny.cc"
    source.write_text(TINY)
    monkeypatch.setattr(build, "SOURCE", source)
    target = tmp_path / "cache" / "tiny.so"
    cxx = build.compiler()
    errors = []

    def compile_once():
        try:
            build.compile_library(cxx, target)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=compile_once) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ctypes.CDLL(str(target)).lstmkit_answer() == 42
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny.so"]  # no temp file left
    source.write_text("this is not C++")
    broken = tmp_path / "cache" / "broken.so"
    with pytest.raises(RuntimeError, match="failed"):
        build.compile_library(cxx, broken)
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny.so"]


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("LSTMKIT_CACHE_DIR", str(tmp_path))
    assert build.cache_dir() == tmp_path
    monkeypatch.delenv("LSTMKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build.cache_dir() == tmp_path / "xdg" / "lstmkit"
    key = build.library_path(["c++"])
    assert key.parent == tmp_path / "xdg" / "lstmkit" and key.suffix == ".so"


def test_nan_and_inf_as_in_the_reference():
    params = make_weights("lstm", 4, True, 3, 4, jnp.float32)
    x = np.random.default_rng(4).normal(size=(3, 5, 3)).astype(np.float32)
    x[0, 2, 1], x[1, 1, 0], x[2, 3, 2] = np.nan, np.inf, -np.inf
    init = [jnp.zeros((3, 4), jnp.float32)] * 2
    args = (jnp.asarray(x), params["kernel"], params["bias"], params["recurrent_kernel"], init)
    _, got, got_states = nat.native_lstm(*args)
    _, want, want_states = reference(SPEC, params, jnp.asarray(x), init)
    assert np.isnan(np.asarray(got)[0, 2:]).all()  # NaN carried on, as in Keras
    for g, w in zip([got, *got_states], [want, *want_states]):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)  # NaN == NaN


ONE_THREAD = textwrap.dedent("""
    import sys
    import numpy as np
    from tests.kernels.test_native import threads_case
    np.save(sys.argv[1], threads_case())
""")


# Shapes that take each way of sharing the work between two threads: (26, ...) each thread its
# rows for the whole loop; (5, ...) each step's panels (units) split; (1, 1, ...) a streamed
# step's units split (packed_gemm.h's split_batch, lstm_cpu.cc's stream_steps).
SPLITS = [(26, 6, 9, 40), (5, 4, 30, 200), (1, 1, 64, 256)]


@pytest.mark.parametrize("batch,time,features,units", SPLITS)
def test_work_split_between_threads_matches_reference(batch, time, features, units):
    mask = "random" if batch > 1 else "none"
    # Gradients up to ~13 here, summed over 800 terms: float32 rounding alone reaches 1e-5 (both
    # the kernel and the float32 reference are within 1e-5 of a float64 one, not of each other).
    check(mask, True, True, True, True, batch=batch, time=time, features=features, units=units,
          atol=1e-5 if units < 100 else 4e-5)  # fmt: skip


@pytest.mark.parametrize("chunk", [40, 1 << 30])  # a chunk that splits K; whole panels
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("batch,time,features,units", SPLITS[:2])
def test_every_k_chunk_matches_reference(chunk, kind, batch, time, features, units):
    # The rows of the packed kernels a tile runs at a time depend on the CPU (packed_gemm.h's
    # default_k_chunk): both ways are checked on any machine.
    lib = build.library()
    lib.lstmkit_set_k_chunk(chunk)
    try:
        check("random", False, True, False, True, batch=batch, time=time, features=features,
              units=units, atol=1e-5 if units < 100 else 4e-5, kind=kind)  # fmt: skip
    finally:
        lib.lstmkit_set_k_chunk(0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_kernels_fetched_ahead_match_reference(kind):
    # The packed [W; U] (576 x 1792 for the LSTM, 576 x 1344 for the GRU) and the LSTM's U^T are
    # over packed_gemm.h's kFetchBytes (3 MB): the products read the next panel into the cache
    # as they go. (Gradients reach ~50 here, sums of up to 1792 products. Against a float64
    # reference: the GRU kernel's within 1e-3, the float32 reference's within 4e-4; the LSTM
    # kernel's within 1e-4, the reference's 1.2e-4. A wrong panel would be O(1).)
    check("random", False, True, False, True, batch=8, time=4, features=128, units=448,
          atol=2e-4 if kind == "lstm" else 1e-3, kind=kind)  # fmt: skip


def threads_case() -> np.ndarray:
    """Outputs and all gradients at the shapes whose work is split between threads."""
    out = []
    for batch, time, features, units in SPLITS:
        rng = np.random.default_rng(7)
        params = make_weights("lstm", 4, True, features, units, jnp.float32, True)
        x = jnp.asarray(rng.normal(size=(batch, time, features)), jnp.float32)
        init = [jnp.zeros((batch, units), jnp.float32)] * 2

        def loss(kernel, bias, recurrent_kernel, x, init=init):
            _, seq, _ = nat.native_lstm(x, kernel, bias, recurrent_kernel, init)
            return jnp.sum(jnp.tanh(seq)), seq

        args = (params["kernel"], params["bias"], params["recurrent_kernel"], x)
        (_, seq), grads = jax.value_and_grad(loss, argnums=(0, 1, 2, 3), has_aux=True)(*args)
        out += [np.ravel(seq), *(np.ravel(g) for g in grads)]
    return np.concatenate(out)


def test_thread_count_is_the_affinity_or_the_variable_and_changes_no_number(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "3")
    assert build.threads() == 3
    monkeypatch.delenv("LSTMKIT_NUM_THREADS")
    assert build.threads() == len(os.sched_getaffinity(0))
    env = {**os.environ, "LSTMKIT_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    done = subprocess.run([sys.executable, "-c", ONE_THREAD, str(tmp_path / "one.npy")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # rows or units are split between threads, never a sum: the same bits with one thread or two
    np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), threads_case())
