"""Activations against real Keras 3 (JAX backend) on a grid with extremes."""

import math
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lstmkit import activations as public  # noqa: E402
from lstmkit.kernels import activations as A  # noqa: E402

GRID = np.concatenate(
    [
        np.linspace(-10, 10, 2001),
        [-1e4, -100.0, -88.0, -30.0, -6.0, -3.0, -1.0, -1e-7, 0.0, 1e-7, 1.0, 3.0, 6.0],
        [30.0, 88.0, 100.0, 1e4],
    ]
).astype(np.float32)

ELEMENTWISE = [
    "linear", "tanh", "sigmoid", "hard_sigmoid", "relu", "relu6", "leaky_relu", "elu",
    "selu", "celu", "softplus", "softsign", "silu", "swish", "hard_silu", "hard_swish",
    "gelu", "mish", "log_sigmoid", "hard_tanh", "tanh_shrink", "squareplus", "sparse_plus",
    "sparse_sigmoid", "soft_shrink", "hard_shrink",
]  # fmt: skip


def _close(ours, theirs, atol=1e-6, rtol=1e-6):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=atol, rtol=rtol)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_keras(name):
    ours = A.get(name)(jnp.asarray(GRID))
    theirs = keras.activations.get(name)(GRID)
    _close(ours, theirs)


def test_exponential_matches_keras():
    x = GRID[np.abs(GRID) < 80]  # exp overflows float32 beyond ~88
    _close(A.exponential(x), keras.activations.exponential(x), rtol=1e-6)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_both_forms(approximate):
    _close(A.gelu(GRID, approximate), keras.activations.gelu(GRID, approximate=approximate))


def test_gelu_default_is_exact_erf_form():
    x = np.float32(1.0)
    exact = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    assert abs(float(A.gelu(x)) - exact) < 1e-6
    assert abs(float(A.gelu(x)) - float(A.gelu(x, approximate=True))) > 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"negative_slope": 0.1},
        {"max_value": 6.0},
        {"max_value": 2.5},
        {"threshold": 1.5},
        {"negative_slope": 0.3, "max_value": 4.0},
        {"negative_slope": 0.3, "threshold": -2.0},
        {"negative_slope": 0.5, "max_value": 3.0, "threshold": 1.0},
    ],
)
def test_relu_arguments_match_keras(kwargs):
    _close(A.relu(GRID, **kwargs), keras.activations.relu(GRID, **kwargs))


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_elu_alpha(alpha):
    _close(A.elu(GRID, alpha=alpha), keras.activations.elu(GRID, alpha=alpha))


def test_leaky_relu_default_slope_is_keras_0_2():
    _close(A.leaky_relu(GRID), keras.activations.leaky_relu(GRID))
    assert float(A.leaky_relu(-1.0)) == pytest.approx(-0.2)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sparsemax"])
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_axis_activations_match_keras(name, axis):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(4, 5, 6)) * 5).astype(np.float32)
    x[0, 0, 0] = 80.0  # a large logit must not overflow
    _close(getattr(A, name)(x, axis=axis), getattr(keras.activations, name)(x, axis=axis))


def test_threshold_matches_keras():
    _close(A.threshold(GRID, 1.0, -3.0), keras.activations.threshold(GRID, 1.0, -3.0))


def test_glu_matches_keras():
    x = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    _close(A.glu(x), keras.activations.glu(x))


def test_hard_sigmoid_keras3_vs_legacy():
    x = np.array([-4.0, -3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0, 4.0], np.float32)
    _close(A.hard_sigmoid(x), np.clip(x / 6 + 0.5, 0, 1))
    _close(A.hard_sigmoid_legacy(x), np.clip(0.2 * x + 0.5, 0, 1))
    assert float(A.hard_sigmoid_legacy(1.0)) == pytest.approx(0.7)
    assert float(A.hard_sigmoid(1.0)) == pytest.approx(1 / 6 + 0.5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=20),
    st.sampled_from(ELEMENTWISE),
)
def test_property_random_inputs(values, name):
    x = np.asarray(values, np.float32)
    _close(A.get(name)(x), keras.activations.get(name)(x))


def test_get_none_callable_and_names():
    assert A.get(None) is A.linear
    fn = lambda x: x * 2  # noqa: E731
    assert A.get(fn) is fn
    assert A.get("swish") is A.silu and A.get("hard_swish") is A.hard_silu
    assert A.get({"class_name": "function", "config": "tanh"}) is A.tanh
    keras_names = set(keras.src.activations.ALL_OBJECTS_DICT)
    assert keras_names <= set(A.names())


def test_get_unknown_raises_naming_it():
    with pytest.raises(ValueError, match="tanhh") as info:
        A.get("tanhh")
    assert "sigmoid" in str(info.value)  # lists the known ones
    with pytest.raises(ValueError):
        A.get(3)


@pytest.mark.parametrize("name", sorted(A.names()))
def test_serialize_round_trip(name):
    fn = A.get(name)
    assert A.get(A.serialize(fn)) is fn


def test_serialize_matches_keras_names():
    for name in ["relu", "tanh", "sigmoid", "swish", "hard_swish", "gelu", "linear", "softmax"]:
        assert A.serialize(A.get(name)) == keras.activations.serialize(keras.activations.get(name))


def _custom_act(x):
    return x * 3


def test_serialize_custom_function_and_lambda():
    entry = A.serialize(_custom_act)
    assert entry["class_name"] == "function" and entry["config"] == "_custom_act"
    with pytest.raises(ValueError, match="lambda"):
        A.serialize(lambda x: x)


def test_public_module_reexports():
    assert public.tanh is A.tanh and public.get("relu") is A.relu
    assert public.serialize(public.sigmoid) == "sigmoid"
    assert public.deserialize("elu") is A.elu
