"""Exact float32 by default: every matrix product lstmkit compiles carries precision HIGHEST, and
`lstmkit.backend.set_float32_matmul_precision` changes it. On a CPU the numbers are the same
whatever the setting, so the tests read the precision recorded in the traced programs (jaxpr)."""

from __future__ import annotations

import jax
import jax.extend
import numpy as np
import pytest
from jax import lax

import lstmkit
from lstmkit import backend, layers
from lstmkit.kernels import precision

HIGHEST = (lax.Precision.HIGHEST, lax.Precision.HIGHEST)
TF32 = (lax.Precision.HIGH, lax.Precision.HIGH)


def traced(fn, *args):
    """The jaxpr of a call of `fn` (a fresh lambda each time: make_jaxpr caches on the function
    and keys its cache on the settings outside `fn`, where lstmkit's is not yet applied)."""
    return jax.make_jaxpr(lambda *a: fn(*a))(*args).jaxpr


def dot_precisions(jaxpr) -> list:
    """The precision of every dot_general in a jaxpr and all its sub-jaxprs (jit, scan,
    custom_vjp, cond)."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn.params["precision"])
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            found += dot_precisions(sub)
    return found


@pytest.fixture(scope="module")
def fitted():
    """A model fitted one step, and the arguments its jitted train step was called with."""
    model = lstmkit.Sequential(
        [layers.Input((5, 3)), layers.LSTM(4, return_sequences=True), layers.GRU(3),
         layers.Dense(2)]
    )  # fmt: skip
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 5, 3)).astype("float32"), rng.normal(size=(4, 2)).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    trainer = model._trainer_cache[1]
    calls = []
    step = trainer.train_step

    def spy(*args):
        calls.append(args)
        return step(*args)

    trainer.train_step = spy
    model.fit(x, y, epochs=1, verbose=0)
    trainer.train_step = step
    return model, step, calls[0]


def test_train_step_is_exact_by_default(fitted):
    _, step, args = fitted
    found = dot_precisions(traced(step, *args))
    # forward and backward of LSTM (fused custom VJP), GRU and Dense: many products, all exact
    assert len(found) >= 10
    assert set(found) == {HIGHEST}


def test_switch_to_tf32_and_default(fitted):
    _, step, args = fitted
    with backend.float32_matmul_precision("tf32"):
        assert set(dot_precisions(traced(step, *args))) == {TF32}
    with backend.float32_matmul_precision("default"):  # JAX's own setting: none recorded
        assert set(dot_precisions(traced(step, *args))) == {None}
    assert backend.get_float32_matmul_precision() == "highest"


def test_eager_layer_call_is_exact():
    layer = layers.LSTM(3)
    x = np.ones((2, 4, 5), "float32")
    layer(x)
    fn = next(f for key, f in layer._jitted.items() if key[0] is False)  # (training, ...)
    found = dot_precisions(traced(fn, layer.params, layer.state, x, None, None, {}))
    assert found and set(found) == {HIGHEST}


def test_setting_recompiles_instead_of_reusing():
    calls = []

    def f(a, b):
        calls.append(1)  # runs once per trace
        return a @ b

    g = precision.jit(f)
    a = np.ones((2, 2), "float32")
    g(a, a)
    g(a, a)
    with precision.float32_matmul_precision("tf32"):
        g(a, a)
    assert len(calls) == 2


def test_bad_setting_names_the_choices():
    with pytest.raises(ValueError, match="set_float32_matmul_precision.*'highest'.*'medium'"):
        backend.set_float32_matmul_precision("medium")
