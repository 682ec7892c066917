"""`.keras` files both ways for Conv1D, the poolings, SpatialDropout1D, GaussianNoise,
LayerNormalization and BatchNormalization (moving statistics included), with real Keras 3."""

import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.models import load_model
from tests.saving import saving_helpers as H

T, F, U, V, B = 12, 4, 3, 7, 4
ZD = {"kernel_initializer": "zeros"}  # the tests overwrite every weight (see saving_helpers)
Z = {**ZD, "recurrent_initializer": "zeros"}


def conv_zoo(lib):
    """Two inputs, three outputs: a conv/pool/normalization stack (causal, dilated, strided,
    grouped, channels_first), and a mask from Embedding through both normalizations into an
    LSTM."""
    L = lib.layers
    x = lib.Input((T, F), name="x")
    ids = lib.Input((T,), dtype="int32", name="ids")
    h = L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu",
                 kernel_regularizer="l2", name="conv_a", **ZD)(x)  # fmt: skip
    h = L.MaxPooling1D(2, name="max")(h)
    h = L.BatchNormalization(momentum=0.9, name="bn")(h)
    h = L.Conv1D(4, 2, strides=2, padding="same", groups=2, name="conv_b", **ZD)(h)
    h = L.AveragePooling1D(2, strides=1, padding="same", name="avg")(h)
    h = L.SpatialDropout1D(0.2, name="sdrop")(h)
    h = L.GaussianNoise(0.1, name="noise")(h)
    h = L.LayerNormalization(axis=[1, 2], name="ln")(h)
    c = L.Conv1D(3, 2, data_format="channels_first", name="conv_cf", use_bias=False, **ZD)(x)
    c = L.MaxPool1D(2, padding="same", data_format="channels_first", name="max_cf")(c)
    c = L.AvgPool1D(2, data_format="channels_first", name="avg_cf")(c)
    e = L.Embedding(V, F, mask_zero=True, name="emb", embeddings_initializer="zeros")(ids)
    e = L.BatchNormalization(center=False, name="bn_masked")(e)
    e = L.LayerNormalization(scale=False, name="ln_masked")(e)
    e = L.LSTM(U, name="lstm", **Z)(e)
    out1 = L.Dense(1, name="out1", **ZD)(L.Flatten(name="flat")(h))
    out2 = L.Dense(2, name="out2", **ZD)(L.Flatten(name="flat_cf")(c))
    out3 = L.Dense(1, name="out3", **ZD)(e)
    return lib.Model([x, ids], [out1, out2, out3], name="conv_zoo")


def randomize(model, seed):
    """Random weights everywhere; a variance stays positive."""
    H.randomize(model, seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            w = layer.get_weights()
            layer.set_weights(w[:-1] + [np.abs(w[-1]) + 0.1])


def data(seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, V, size=(B, T)).astype("int32")
    ids[0, 8:] = 0
    ids[2, :3] = 0
    return [rng.normal(size=(B, T, F)).astype("float32"), ids]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    warnings.simplefilter("ignore")
    folder = tmp_path_factory.mktemp("conv_zoo")
    keras.backend.clear_session()
    lstmkit.backend.clear_session()
    km = conv_zoo(keras)
    randomize(km, seed=1)
    km.save(folder / "keras.keras")
    lk = load_model(folder / "keras.keras")
    lk.save(folder / "rewritten.keras")
    lm = conv_zoo(lstmkit)
    randomize(lm, seed=2)
    lm.save(folder / "lstmkit.keras")
    return km, lk, lm, folder


def test_keras_file_loads_in_lstmkit_and_back(files):
    km, lk, _, folder = files
    kk = keras.models.load_model(folder / "rewritten.keras")
    for layer in km.layers:
        for a, b, c in zip(layer.get_weights(), lk.get_layer(layer.name).get_weights(),
                           kk.get_layer(layer.name).get_weights()):  # fmt: skip
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)
    x = data(seed=3)
    assert H.max_diff(lk.predict(x, verbose=0), km.predict(x, verbose=0)) < 1e-5
    assert [w.shape for w in lk.get_layer("bn").non_trainable_weights] == [(6,), (6,)]


def test_lstmkit_file_loads_in_keras(files):
    _, _, lm, folder = files
    kl = keras.models.load_model(folder / "lstmkit.keras")
    x = data(seed=4)
    assert H.max_diff(kl.predict(x, verbose=0), lm.predict(x, verbose=0)) < 1e-5
    for a, b in zip(kl.get_weights(), lm.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_same_config_and_weight_layout_as_keras(files):
    _, _, _, folder = files
    k_config, k_layout = H.read_keras_file(folder / "keras.keras")
    for name in ("rewritten.keras", "lstmkit.keras"):
        config, layout = H.read_keras_file(folder / name)
        assert H.without_object_ids(config) == H.without_object_ids(k_config), name
        assert layout == k_layout, name
    assert k_layout["layers/batch_normalization/vars/3"][0] == (6,)  # moving_variance
