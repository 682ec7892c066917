"""Regularizers and constraints against real Keras 3 (JAX backend)."""

import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from lstmkit import constraints as C  # noqa: E402
from lstmkit import regularizers as R  # noqa: E402

RNG = np.random.default_rng(0)
W = {
    "matrix": RNG.normal(size=(7, 5)).astype(np.float32),
    "big": (RNG.normal(size=(3, 4, 6)) * 10).astype(np.float32),
    "vector": RNG.normal(size=(9,)).astype(np.float32),
    "zeros": np.zeros((4, 3), np.float32),
}


def _close(a, b, tol=1e-6):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=tol, atol=tol)  # fmt: skip


# ---------------------------------------------------------------- regularizers
REG_CASES = [
    ("L1", {}), ("L1", {"l1": 0.3}), ("L2", {}), ("L2", {"l2": 0.5}), ("L1L2", {}),
    ("L1L2", {"l1": 0.01, "l2": 0.02}), ("L1L2", {"l2": 0.1}), ("L1", {"l1": 0}),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", REG_CASES)
@pytest.mark.parametrize("w", list(W), ids=list(W))
def test_regularizer_values_match_keras(name, kwargs, w):
    ours = getattr(R, name)(**kwargs)(jnp.asarray(W[w]))
    theirs = getattr(keras.regularizers, name)(**kwargs)(W[w])
    assert ours.shape == ()
    _close(ours, theirs)


@pytest.mark.parametrize("name, kwargs", REG_CASES)
def test_regularizer_config_matches_keras(name, kwargs):
    ours, theirs = getattr(R, name)(**kwargs), getattr(keras.regularizers, name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert R.serialize(ours) == keras.regularizers.serialize(theirs)
    back = R.get(keras.regularizers.serialize(theirs))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


def test_regularizer_defaults():
    assert R.L1().get_config() == {"l1": float(np.float32(0.01))}  # Keras keeps it as float32
    assert R.L2().get_config() == {"l2": 0.01}
    assert R.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert R.l1_l2 is R.L1L2 and R.l1 is R.L1 and R.l2 is R.L2
    assert float(R.L2(0.5)(jnp.ones((2, 2)))) == pytest.approx(2.0)
    assert float(R.L1(0.5)(-jnp.ones((2, 2)))) == pytest.approx(2.0)


def test_regularizer_is_jittable_and_differentiable():
    reg = R.L1L2(l1=0.1, l2=0.2)
    w = jnp.asarray(W["matrix"])
    grad = jax.grad(jax.jit(reg))(w)
    _close(grad, 0.1 * np.sign(W["matrix"]) + 0.4 * W["matrix"], 1e-5)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "x"])
def test_regularizer_rejects_bad_factors(bad):
    with pytest.raises(ValueError, match="l2"):
        R.L2(bad)


@pytest.mark.parametrize("name", ["l1", "l2", "L1", "L2", "L1L2", "l1l2", "l1_l2"])
def test_regularizer_get_by_name(name):
    reg = R.get(name)
    assert isinstance(reg, R.Regularizer)
    if name != "l1_l2":  # Keras 3's own `get` rejects "l1_l2"
        assert reg.get_config() == keras.regularizers.get(name).get_config()


def test_regularizer_get_other_and_errors():
    assert R.get(None) is None
    reg = R.L2(0.3)
    assert R.get(reg) is reg
    fn = lambda w: jnp.sum(w)  # noqa: E731
    assert R.get(fn) is fn
    assert isinstance(R.get(R.L1), R.L1)
    with pytest.raises(ValueError, match="l3"):
        R.get("l3")
    with pytest.raises(ValueError, match="Bogus"):
        R.get({"class_name": "Bogus", "config": {}})


# ---------------------------------------------------------------- constraints
CON_CASES = [
    ("MaxNorm", {}), ("MaxNorm", {"max_value": 0.5, "axis": 1}), ("MaxNorm", {"axis": [0, 1]}),
    ("NonNeg", {}), ("UnitNorm", {}), ("UnitNorm", {"axis": -1}),
    ("MinMaxNorm", {}), ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.3}),
    ("MinMaxNorm", {"min_value": 1.0, "max_value": 1.5, "axis": 1}),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", CON_CASES)
@pytest.mark.parametrize("w", ["matrix", "big", "zeros"])
def test_constraint_values_match_keras(name, kwargs, w):
    ours = getattr(C, name)(**kwargs)(jnp.asarray(W[w]))
    theirs = getattr(keras.constraints, name)(**kwargs)(W[w])
    assert ours.shape == W[w].shape
    _close(ours, theirs)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float32, (4, 3), elements=st.floats(-100, 100, width=32)),
    st.sampled_from(CON_CASES),
)
def test_constraint_property_random(w, case):
    name, kwargs = case
    _close(getattr(C, name)(**kwargs)(w), getattr(keras.constraints, name)(**kwargs)(w), 1e-5)


def test_constraint_semantics():
    w = jnp.asarray(W["big"])
    norms = np.sqrt((np.asarray(C.MaxNorm(1.0)(w)) ** 2).sum(axis=0))
    assert norms.max() <= 1.0 + 1e-5
    unit = np.sqrt((np.asarray(C.UnitNorm()(w)) ** 2).sum(axis=0))
    _close(unit, np.ones_like(unit), 1e-5)
    assert float(jnp.min(C.NonNeg()(w))) == 0.0
    np.testing.assert_array_equal(np.asarray(C.Constraint()(w)), W["big"])


@pytest.mark.parametrize("name, kwargs", CON_CASES)
def test_constraint_config_matches_keras(name, kwargs):
    ours, theirs = getattr(C, name)(**kwargs), getattr(keras.constraints, name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert C.serialize(ours) == keras.constraints.serialize(theirs)
    back = C.get(keras.constraints.serialize(theirs))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


@pytest.mark.parametrize(
    "name", ["max_norm", "non_neg", "unit_norm", "min_max_norm", "MaxNorm", "NonNeg"]
)
def test_constraint_get_by_name(name):
    ours, theirs = C.get(name), keras.constraints.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config() == theirs.get_config()


def test_constraint_get_other_and_errors():
    assert C.get(None) is None
    c = C.MaxNorm(3)
    assert C.get(c) is c
    assert C.max_norm is C.MaxNorm and C.non_neg is C.NonNeg
    assert C.unit_norm is C.UnitNorm and C.min_max_norm is C.MinMaxNorm
    with pytest.raises(ValueError, match="maxnorm"):
        C.get("maxnorm")
    with pytest.raises(ValueError, match="Could not interpret"):
        C.get(3.5)


def _custom_penalty(w):
    return jnp.sum(w)


@pytest.mark.parametrize("module", [R, C])
def test_serialize_none_and_functions(module):
    assert module.serialize(None) is None
    entry = module.serialize(_custom_penalty)
    assert entry["class_name"] == "function" and entry["config"] == "_custom_penalty"
    with pytest.raises(ValueError, match="lambda"):
        module.serialize(lambda w: w)
