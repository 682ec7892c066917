"""Conv1D, the 1-D poolings, SpatialDropout1D, GaussianNoise, LayerNormalization and
BatchNormalization against their Keras 3 twins: weights, outputs, shapes, configs and masks."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

import lstmkit.layers as L
from lstmkit.saving.config import serialize_layer
from tests.layers import keras_twin
from tests.layers.keras_twin import assert_same

RNG = np.random.default_rng(5)
B, T, C = 3, 9, 4


def randn(*shape):
    return keras_twin.randn(RNG, *shape)


def twin(make, x, build_only=False):
    theirs, ours = make(keras.layers), make(L)
    theirs.build(x.shape)
    ours(x)
    if ours.get_weights():
        keras_twin.copy_random_weights(RNG, theirs, ours)
    return ours, theirs


def same_config(ours, theirs):
    """lstmkit's serialized entry is Keras's (dtype policy, tuples as lists, every key)."""
    mine = serialize_layer(ours)
    keras_entry = json.loads(json.dumps(keras.saving.serialize_keras_object(theirs)))
    mine.pop("build_config", None)
    keras_entry.pop("build_config", None)
    a, b = mine["config"], keras_entry["config"]
    diff = {k for k in {*a, *b} if a.get(k, "<none>") != b.get(k, "<none>")}
    assert not diff, {k: (a.get(k), b.get(k)) for k in diff}
    assert mine == keras_entry


# Random initializers compile once per shape on JAX (seconds on a busy CPU); the tests overwrite
# the weights anyway, so the layers start from zeros.
Z = {"kernel_initializer": "zeros"}
CONV_CASES = [
    dict(filters=5, kernel_size=3, **Z),
    dict(
        filters=6, kernel_size=3, padding="same", strides=2, activation="relu", groups=2, **Z
    ),  # fmt: skip
    dict(filters=3, kernel_size=2, padding="causal", dilation_rate=2, use_bias=False, **Z),
    dict(
        filters=4,
        kernel_size=(3,),
        padding="same",
        data_format="channels_first",
        dilation_rate=3,
        activation="tanh",
        **Z,
    ),  # fmt: skip
    dict(
        filters=4,
        kernel_size=4,
        strides=3,
        padding="causal",
        kernel_regularizer="l2",
        bias_constraint="non_neg",
        **Z,
    ),  # fmt: skip
]


def test_conv1d_matches_keras():
    for kw in CONV_CASES:
        x = randn(B, C, T) if kw.get("data_format") == "channels_first" else randn(B, T, C)
        ours, theirs = twin(lambda lib, kw=kw: lib.Conv1D(**kw), x)
        assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
        assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
        assert_same(ours(x), theirs(x), str(kw))
        for shape in (x.shape, (None, None, x.shape[2]) if "data_format" not in kw else x.shape):
            assert ours.compute_output_shape(shape) == theirs.compute_output_shape(shape), kw
        same_config(ours, theirs)
        assert not ours.supports_masking and not theirs.supports_masking
        assert ours.compute_mask(x, np.ones((B, T), bool)) is None


def test_conv1d_kernel_layout_and_causality():
    x = randn(2, 6, 2)
    ours = L.Conv1D(1, 3, padding="causal", use_bias=False, **Z)
    ours(x)
    ours.set_weights([np.ones((3, 2, 1), np.float32)])  # (kernel_size, channels, filters)
    y = np.asarray(ours(x))[..., 0]
    padded = np.concatenate([np.zeros((2, 2, 2), np.float32), x], axis=1)
    expected = np.stack([padded[:, t : t + 3].sum(axis=(1, 2)) for t in range(6)], axis=1)
    np.testing.assert_allclose(y, expected, atol=1e-5)  # step t sees steps t-2..t only


def test_conv1d_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="conv_bad.*padding"):
        L.Conv1D(2, 3, padding="full", name="conv_bad")
    with pytest.raises(ValueError, match="divisible by `groups`"):
        L.Conv1D(3, 3, groups=2)
    with pytest.raises(ValueError, match="strides.*dilation_rate"):
        L.Conv1D(3, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="kernel_size"):
        L.Conv1D(3, 0)
    with pytest.raises(ValueError, match="too short"):
        L.Conv1D(3, 5)(randn(1, 3, 2))
    with pytest.raises(ValueError, match="3-D"):
        L.Conv1D(3, 2)(randn(4, 2))


POOL_CASES = [
    ("MaxPooling1D", dict()),
    ("MaxPool1D", dict(pool_size=3, strides=2, padding="same")),
    ("AveragePooling1D", dict(pool_size=2)),
    ("AvgPool1D", dict(pool_size=4, strides=3, padding="same")),
    ("AveragePooling1D", dict(pool_size=3, strides=1, data_format="channels_first")),
    ("MaxPooling1D", dict(pool_size=2, padding="same", data_format="channels_first")),
]


def test_pooling_matches_keras():
    for name, kw in POOL_CASES:
        x = randn(B, T, C)
        ours, theirs = twin(lambda lib, name=name, kw=kw: getattr(lib, name)(**kw), x)
        assert_same(ours(x), theirs(x), f"{name} {kw}")
        assert ours.compute_output_shape(x.shape) == theirs.compute_output_shape(x.shape)
        assert ours.compute_output_shape((None, None, C)) == theirs.compute_output_shape(
            (None, None, C)
        )
        same_config(ours, theirs)
        assert ours.supports_masking == theirs.supports_masking is False
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D


def test_spatial_dropout_drops_whole_channels_in_training_only():
    x = np.ones((200, 6, 10), np.float32)
    ours, theirs = L.SpatialDropout1D(0.3), keras.layers.SpatialDropout1D(0.3)
    assert_same(ours(x), x)  # inference: identity
    y = np.asarray(ours(x, training=True))
    assert np.all(y == y[:, :1, :])  # one draw per (sample, channel), shared by every step
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.7], rtol=1e-6)
    assert abs((y[:, 0] == 0).mean() - 0.3) < 0.03  # 2000 draws: 3 sigma is about 0.03
    theirs.build(x.shape)
    same_config(ours, theirs)
    mask = np.ones((200, 6), bool)
    assert ours.supports_masking and theirs.supports_masking
    assert ours.compute_mask(x, mask) is mask
    with pytest.raises(ValueError, match="3-D"):
        ours(np.ones((2, 3), np.float32))


def test_gaussian_noise_in_training_only():
    x = randn(100, 8, 10)
    ours, theirs = L.GaussianNoise(0.2, seed=3), keras.layers.GaussianNoise(0.2, seed=3)
    assert_same(ours(x), x)
    noise = np.asarray(ours(x, training=True)) - x
    assert abs(noise.mean()) < 0.01 and abs(noise.std() - 0.2) < 0.01  # 8000 draws
    assert not np.allclose(np.asarray(ours(x, training=True)) - x, noise)  # fresh noise per call
    theirs.build(x.shape)
    same_config(ours, theirs)
    assert ours.supports_masking and theirs.supports_masking
    with pytest.raises(ValueError, match="stddev"):
        L.GaussianNoise(1.5)


LN_CASES = [
    dict(),
    dict(axis=[1, 2], epsilon=1e-5),
    dict(axis=1, center=False),
    dict(scale=False, gamma_regularizer="l2"),
    dict(rms_scaling=True),
]


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
def test_layer_normalization_matches_keras():
    x = randn(B, T, C) * 3 + 1
    for kw in LN_CASES:
        ours, theirs = twin(lambda lib, kw=kw: lib.LayerNormalization(**kw), x)
        assert [v.name for v in ours.variables] == [v.name for v in theirs.variables]
        assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
        assert_same(ours(x), theirs(x), str(kw))
        same_config(ours, theirs)
        mask = np.ones((B, T), bool)
        assert ours.supports_masking and ours.compute_mask(x, mask) is mask


@pytest.fixture(scope="module")
def bn_pair():
    x = randn(6, 5, C) * 2 + 0.5
    ours, theirs = twin(lambda lib: lib.BatchNormalization(momentum=0.9, epsilon=1e-2), x)
    return ours, theirs, x


def test_batch_normalization_weights_and_inference(bn_pair):
    ours, theirs, x = bn_pair
    assert [(v.name, v.trainable) for v in ours.variables] == [
        (v.name, v.trainable) for v in theirs.variables
    ]
    assert [v.name for v in theirs.variables] == ["gamma", "beta", "moving_mean",
                                                  "moving_variance"]  # fmt: skip
    assert len(ours.trainable_weights) == 2 and len(ours.non_trainable_weights) == 2
    theirs.set_weights([w if i < 3 else np.abs(w) + 0.1 for i, w in
                        enumerate(theirs.get_weights())])  # fmt: skip
    ours.set_weights(theirs.get_weights())
    assert_same(ours(x), theirs(x))  # inference: the moving statistics
    same_config(ours, theirs)


def test_batch_normalization_training_updates_moving_statistics(bn_pair):
    ours, theirs, x = bn_pair
    mask = np.ones(x.shape[:2], bool)
    mask[0, 3:] = mask[2, :2] = False
    for kw in ({}, {"mask": mask}):
        assert_same(ours(x, training=True, **kw), theirs(x, training=True, **kw), str(kw))
        assert_same(ours.get_weights(), theirs.get_weights(), f"moving statistics {kw}")
    assert ours.compute_mask(x, mask) is mask


def test_batch_normalization_frozen_uses_moving_statistics():
    x = randn(4, 3, 6)
    ours, theirs = twin(lambda lib: lib.BatchNormalization(axis=1, center=False), x)
    theirs.set_weights([theirs.get_weights()[0], np.zeros(3), np.ones(3) * 2])
    ours.set_weights(theirs.get_weights())
    assert [w.shape for w in ours.get_weights()] == [(3,), (3,), (3,)]
    ours.trainable = theirs.trainable = False
    before = ours.get_weights()
    assert_same(ours(x, training=True), theirs(x, training=True))
    assert_same(ours.get_weights(), before)  # inference mode: nothing updated
    ours.trainable = theirs.trainable = True
    assert_same(ours(x, training=True), theirs(x, training=True))  # axis=1: stats per row
    assert_same(ours.get_weights(), theirs.get_weights())
    with pytest.raises(ValueError, match="renorm_clipping"):
        L.BatchNormalization(renorm=True, renorm_clipping={"rmx": 1})


def test_batch_renormalization_matches_keras():
    x = randn(6, 5, C) * 2 + 0.5
    clip = {"rmax": 1.5, "rmin": 0.8, "dmax": 0.3}
    kw = dict(renorm=True, renorm_clipping=clip, renorm_momentum=0.7, name="renorm")
    ours, theirs = twin(lambda lib: lib.BatchNormalization(**kw), x)
    assert [(v.name, v.trainable) for v in ours.variables] == [
        (v.name, v.trainable) for v in theirs.variables
    ]
    theirs.set_weights([np.abs(w) + 0.1 for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    for _ in range(2):
        assert_same(ours(x, training=True), theirs(x, training=True))
        assert_same(ours.get_weights(), theirs.get_weights(), "renorm statistics")
    assert_same(ours(x), theirs(x))
    same_config(ours, theirs)
    fresh = L.BatchNormalization(renorm=True)
    fresh(x)
    np.testing.assert_array_equal(fresh.get_weights()[4], np.ones(C))  # sqrt(moving_variance)


@pytest.mark.slow
def test_conv1d_and_pooling_sweep_matches_keras():
    """Every padding x data_format with strides, dilations and groups (slow: many compilations)."""
    cases = [(p, f, k, s, d, g) for p in ("valid", "same", "causal")
             for f in ("channels_last", "channels_first") for k in (1, 2, 5)
             for s, d in ((1, 1), (2, 1), (1, 3)) for g in (1, 2)]  # fmt: skip
    for padding, fmt, k, s, d, g in cases:
        x = randn(2, C, 16) if fmt == "channels_first" else randn(2, 16, C)
        kw = dict(filters=4, kernel_size=k, strides=s, dilation_rate=d, groups=g,
                  padding=padding, data_format=fmt, **Z)  # fmt: skip
        ours, theirs = twin(lambda lib, kw=kw: lib.Conv1D(**kw), x)
        assert_same(ours(x), theirs(x), str(kw))
        if padding != "causal":
            for name in ("MaxPooling1D", "AveragePooling1D"):
                pool = dict(pool_size=k + 1, strides=s, padding=padding, data_format=fmt)
                ours, theirs = twin(lambda lib, n=name, p=pool: getattr(lib, n)(**p), x)
                assert_same(ours(x), theirs(x), f"{name} {pool}")
