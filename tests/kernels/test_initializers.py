"""Initializers: exact values for the deterministic ones, statistics and reproducibility for
the random ones, Keras 3 configs and name lookup. Real Keras 3 is the oracle."""

import math
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lstmkit import initializers as I  # noqa: E402
from lstmkit import utils  # noqa: E402
from lstmkit.kernels import initializers as ops  # noqa: E402

KEY = jax.random.key(0)
BIG = (400, 600)  # 240k samples: sample mean/std are within ~1% of the truth


def _np(x):
    return np.asarray(x, np.float64)


# ---------------------------------------------------------------- deterministic, exact
@pytest.mark.parametrize(
    "ours, theirs, shape",
    [
        (I.Zeros(), keras.initializers.Zeros(), (3, 4)),
        (I.Ones(), keras.initializers.Ones(), (2, 3, 4)),
        (I.Constant(0.25), keras.initializers.Constant(0.25), (5, 2)),
        (I.Constant(3), keras.initializers.Constant(3), (4,)),
        (I.Identity(), keras.initializers.Identity(), (4, 4)),
        (I.Identity(gain=2.5), keras.initializers.Identity(gain=2.5), (3, 5)),
        (I.Identity(gain=0.5), keras.initializers.Identity(gain=0.5), (5, 3)),
    ],
)
def test_deterministic_exact(ours, theirs, shape):
    got, want = ours(shape), np.asarray(theirs(shape))
    assert got.dtype == jnp.float32 and got.shape == shape
    np.testing.assert_array_equal(np.asarray(got), want)


def test_constant_pretrained_matrix():
    emb = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    got = I.Constant(emb)((10, 4))
    np.testing.assert_array_equal(
        np.asarray(got), np.asarray(keras.initializers.Constant(emb)((10, 4)))
    )
    with pytest.raises(ValueError, match=r"\(10, 4\).*\(4, 10\)"):
        I.Constant(emb)((4, 10))


def test_dtype_argument():
    assert I.Ones()((2,), dtype=jnp.float16).dtype == jnp.float16
    assert I.GlorotUniform(seed=1)((3, 3), "float32").dtype == jnp.float32


def test_identity_rejects_non_2d():
    with pytest.raises(ValueError, match="2-D"):
        I.Identity()((2, 3, 4))


def test_orthogonal_rejects_rank_1():
    with pytest.raises(ValueError, match="rank"):
        I.Orthogonal()((5,))


# ---------------------------------------------------------------- statistics
def test_random_normal_stats():
    x = _np(ops.random_normal(KEY, BIG, mean=0.3, stddev=2.0))
    assert abs(x.mean() - 0.3) < 0.02 and abs(x.std() - 2.0) < 0.02


def test_random_uniform_bounds_and_stats():
    x = _np(ops.random_uniform(KEY, BIG, minval=-1.0, maxval=3.0))
    assert x.min() >= -1.0 and x.max() < 3.0
    assert abs(x.mean() - 1.0) < 0.02 and abs(x.std() - 4 / math.sqrt(12)) < 0.02


def test_truncated_normal_within_two_stddev():
    x = _np(ops.truncated_normal(KEY, BIG, mean=1.0, stddev=0.5))
    assert x.min() >= 1.0 - 1.0 - 1e-6 and x.max() <= 1.0 + 1.0 + 1e-6
    assert abs(x.mean() - 1.0) < 0.01
    assert abs(x.std() - 0.5 * ops.TRUNCATION_STD) < 0.01  # a 2-sigma cut shrinks the std


@pytest.mark.parametrize("shape", [(300, 500), (500, 300), (3, 3, 40, 60), (1000,)])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_scaling_std(shape, mode, distribution):
    scale = 2.0
    fan_in, fan_out = ops.compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    target = math.sqrt(scale / n)
    x = _np(I.VarianceScaling(scale, mode, distribution)(shape, key=KEY))
    # the sample mean's standard error is std/sqrt(N): allow four of them
    assert abs(x.std() / target - 1) < 0.03 and abs(x.mean()) < 4 * target / math.sqrt(x.size)
    bound = {"uniform": math.sqrt(3) * target, "truncated_normal": 2 * target / 0.8796}
    if distribution in bound:
        assert np.abs(x).max() <= bound[distribution] * (1 + 1e-5)


def test_compute_fans_matches_keras():
    from keras.src.initializers.random_initializers import compute_fans

    for shape in [(), (7,), (3, 5), (2, 3, 5), (3, 3, 4, 8)]:
        assert ops.compute_fans(shape) == compute_fans(shape)
    assert ops.compute_fans((2, 3, 5), [0, 1], [2]) == compute_fans((2, 3, 5), [0, 1], [2])


@pytest.mark.parametrize(
    "cls, limit",
    [
        (I.GlorotUniform, lambda fi, fo: math.sqrt(6 / (fi + fo))),
        (I.HeUniform, lambda fi, fo: math.sqrt(6 / fi)),
        (I.LecunUniform, lambda fi, fo: math.sqrt(3 / fi)),
    ],
)
def test_uniform_family_bounds(cls, limit):
    x = _np(cls()((200, 300), key=KEY))
    lim = limit(200, 300)
    assert np.abs(x).max() <= lim and np.abs(x).max() > 0.99 * lim
    assert abs(x.std() - lim / math.sqrt(3)) < 0.02 * lim


@pytest.mark.parametrize(
    "cls, std",
    [
        (I.GlorotNormal, lambda fi, fo: math.sqrt(2 / (fi + fo))),
        (I.HeNormal, lambda fi, fo: math.sqrt(2 / fi)),
        (I.LecunNormal, lambda fi, fo: math.sqrt(1 / fi)),
    ],
)
def test_normal_family_std(cls, std):
    x = _np(cls()((200, 300), key=KEY))
    s = std(200, 300)
    assert abs(x.std() / s - 1) < 0.02 and np.abs(x).max() <= 2 * s / 0.8796 * (1 + 1e-5)


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (2, 5, 8), (4, 3, 30)])
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal(shape, gain):
    q = _np(I.Orthogonal(gain=gain)(shape, key=KEY))
    assert q.shape == shape
    m = q.reshape(-1, shape[-1])  # (rows, cols)
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(small), atol=1e-5)


# ---------------------------------------------------------------- reproducibility
RANDOM_CLASSES = [
    I.RandomNormal, I.RandomUniform, I.TruncatedNormal, I.VarianceScaling, I.GlorotUniform,
    I.GlorotNormal, I.HeUniform, I.HeNormal, I.LecunUniform, I.LecunNormal, I.Orthogonal,
]  # fmt: skip


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_global_seed_reproducible(cls):
    utils.set_random_seed(123)
    a = cls()((6, 7))
    utils.set_random_seed(123)
    b = cls()((6, 7))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c = cls()((6, 7))  # next draw from the stream differs
    assert not np.array_equal(np.asarray(b), np.asarray(c))


@pytest.mark.parametrize("cls", RANDOM_CLASSES)
def test_int_seed_repeats(cls):
    # Bit parity with Keras's random numbers is not a goal (SPEC §1); repeatability is.
    init = cls(seed=42)
    a, b = np.asarray(init((6, 7))), np.asarray(init((6, 7)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.asarray(cls(seed=43)((6, 7))))


def test_explicit_key_wins_over_seed():
    a = I.GlorotUniform(seed=1)((4, 4), key=jax.random.key(7))
    b = I.GlorotUniform(seed=2)((4, 4), key=jax.random.key(7))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bad_seed_rejected():
    with pytest.raises(ValueError, match="seed"):
        I.RandomNormal(seed="abc")


# ---------------------------------------------------------------- configs and lookup
CONFIG_CASES = [
    ("Zeros", {}), ("Ones", {}), ("Constant", {"value": 1.5}),
    ("RandomNormal", {"mean": 0.1, "stddev": 0.3, "seed": 4}), ("RandomUniform", {}),
    ("TruncatedNormal", {"seed": 9}), ("Orthogonal", {"gain": 1.3}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"}),
    ("GlorotUniform", {}), ("GlorotNormal", {"seed": 1}), ("HeUniform", {}), ("HeNormal", {}),
    ("LecunUniform", {}), ("LecunNormal", {}),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", CONFIG_CASES)
def test_config_and_serialize_match_keras(name, kwargs):
    ours = getattr(I, name)(**kwargs)
    theirs = getattr(keras.initializers, name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert list(ours.get_config()) == list(theirs.get_config())
    assert I.serialize(ours) == keras.initializers.serialize(theirs)
    back = I.get(keras.initializers.serialize(theirs))  # Keras dict -> lstmkit
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_identity_config_keeps_gain():
    # Keras 3 forgets `gain` in Identity.get_config() (returns {}); lstmkit keeps it, and
    # Keras reads lstmkit's config back correctly.
    cfg = I.Identity(gain=2.0).get_config()
    assert cfg == {"gain": 2.0}
    theirs = keras.initializers.Identity.from_config(cfg)
    np.testing.assert_array_equal(np.asarray(theirs((3, 3))), np.asarray(I.Identity(2.0)((3, 3))))
    assert I.get(I.serialize(I.Identity(gain=2.0))).gain == 2.0


def test_constant_by_name_defaults_to_zero():
    # keras.initializers.get("constant") raises KeyError in Keras 3.15; lstmkit gives Constant(0.0).
    np.testing.assert_array_equal(np.asarray(I.get("constant")((2,))), np.zeros(2))


def test_constant_array_config_round_trip():
    emb = np.arange(6, dtype=np.float32).reshape(2, 3)
    cfg = I.Constant(emb).get_config()
    assert cfg == keras.initializers.Constant(emb).get_config()
    back = I.get(keras.initializers.serialize(keras.initializers.Constant(emb)))
    np.testing.assert_array_equal(np.asarray(back((2, 3))), emb)


@pytest.mark.parametrize(
    "name", ["glorot_uniform", "GlorotUniform", "orthogonal", "zeros", "ones", "he_normal",
             "lecun_uniform", "random_normal", "truncated_normal", "variance_scaling", "uniform",
             "normal", "zero", "one", "OrthogonalInitializer"],
)  # fmt: skip
def test_get_by_name_like_keras(name):
    ours, theirs = I.get(name), keras.initializers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config() == theirs.get_config()


def test_get_other_identifiers():
    assert I.get(None) is None
    g = I.GlorotUniform()
    assert I.get(g) is g
    assert isinstance(I.get(I.HeNormal), I.HeNormal)
    fn = lambda shape, dtype=None: jnp.full(shape, 2.0)  # noqa: E731
    assert I.get(fn) is fn
    d = {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 1.0, "seed": 3}}
    assert I.get(d).get_config() == {"seed": 3, "minval": 0.0, "maxval": 1.0}
    arr = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(np.asarray(I.get(arr)((2, 2))), arr)
    with pytest.raises(ValueError, match="shape"):
        I.get(arr)((3, 2))
    assert I.glorot_uniform is I.GlorotUniform and I.orthogonal is I.Orthogonal


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="glorot_uniformm") as info:
        I.get("glorot_uniformm")
    assert "glorot_uniform" in str(info.value).replace("glorot_uniformm", "")
    with pytest.raises(ValueError, match="Bogus"):
        I.get({"class_name": "Bogus", "config": {}})
    with pytest.raises(ValueError):
        I.get(42)


def test_variance_scaling_validation():
    with pytest.raises(ValueError, match="scale"):
        I.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="fan_mid"):
        I.VarianceScaling(mode="fan_mid")
    with pytest.raises(ValueError, match="gamma"):
        I.VarianceScaling(distribution="gamma")
    assert I.VarianceScaling(distribution="Normal").distribution == "truncated_normal"


def _custom_init(shape, dtype=None):
    return jnp.zeros(shape, dtype)


def test_serialize_none_and_functions():
    assert I.serialize(None) is None
    entry = I.serialize(_custom_init)
    assert entry == keras.initializers.serialize(_custom_init) | {"module": __name__}
    with pytest.raises(ValueError, match="lambda"):
        I.serialize(lambda shape, dtype=None: None)
