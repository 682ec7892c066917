"""`.keras` files with the attention and ConvLSTM layers, both ways, with real Keras 3.

One functional model holds Attention (concat scores, a masked value), AdditiveAttention with a
key, MultiHeadAttention (value mask from the graph, causal mask, scores returned), ConvLSTM1D
and ConvLSTM2D: Keras writes it, lstmkit reads and rewrites it, Keras reads that; and lstmkit's
own build of the same model writes the same config.json and weight layout as Keras.
"""

import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.models import load_model
from tests.saving import saving_helpers as H

T, S, D = 4, 5, 3
# Random initializers compile once per weight shape (seconds each, in both libraries); the tests
# overwrite every weight, so the models start from zeros.
Z = {"kernel_initializer": "zeros"}
ZR = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}


def attention_zoo(lib):
    L = lib.layers
    q = lib.Input((T, D), name="q")
    v = lib.Input((S, D), name="v")
    frames = lib.Input((3, 6, D), name="frames")
    images = lib.Input((2, 4, 3, 2), name="images")
    vm = L.Masking(0.0, name="mask_v")(v)
    a = L.Attention(use_scale=True, score_mode="concat", name="att")([q, vm])
    b = L.AdditiveAttention(name="add_att")([q, v, v])
    c, scores = L.MultiHeadAttention(2, 3, name="mha", **Z)(q, vm, use_causal_mask=True,
                                                       return_attention_scores=True)  # fmt: skip
    d = L.MultiHeadAttention(1, 2, output_shape=4, name="mha_b", **Z)(query=a, value=b)
    e = L.ConvLSTM1D(2, 3, padding="same", return_sequences=True, name="clstm1", **ZR)(frames)
    f = L.ConvLSTM2D(2, (2, 2), return_state=True, name="clstm2", **ZR)(images)
    return lib.Model([q, v, frames, images], [a, b, c, scores, d, e, *f], name="attention_zoo")


def attention_data(seed=0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(2, T, D)).astype("float32")
    v = rng.normal(size=(2, S, D)).astype("float32")
    v[0, 3:] = 0.0  # masked value steps
    frames = rng.normal(size=(2, 3, 6, D)).astype("float32")
    images = rng.normal(size=(2, 2, 4, 3, 2)).astype("float32")
    return [q, v, frames, images]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    warnings.simplefilter("ignore")
    folder = tmp_path_factory.mktemp("attention")
    keras.backend.clear_session()
    lstmkit.backend.clear_session()
    km = attention_zoo(keras)
    H.randomize(km, seed=1)
    km.save(folder / "keras.keras")
    lk = load_model(folder / "keras.keras")
    lk.save(folder / "rewritten.keras")
    lstmkit.backend.clear_session()
    lm = attention_zoo(lstmkit)
    lm.save(folder / "lstmkit.keras")
    return km, lk, folder


def test_keras_file_loads_and_round_trips(files):
    km, lk, folder = files
    kk = keras.models.load_model(folder / "rewritten.keras")
    assert [w.shape for w in lk.get_weights()] == [w.shape for w in km.get_weights()]
    for a, b in zip(km.get_weights(), kk.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = attention_data(3)
    want = km.predict(x, verbose=0)
    assert H.max_diff(lk.predict(x, verbose=0), want) < 1e-5
    assert H.max_diff(kk.predict(x, verbose=0), want) < 1e-5


def test_same_config_and_weight_layout_as_keras(files):
    _, _, folder = files
    k_config, k_layout = H.read_keras_file(folder / "keras.keras")
    for name in ("rewritten.keras", "lstmkit.keras"):
        config, layout = H.read_keras_file(folder / name)
        assert H.without_object_ids(config) == H.without_object_ids(k_config)
        assert layout == k_layout
    assert "layers/multi_head_attention/query_dense/vars/0" in k_layout
    assert "layers/conv_lstm2d/cell/vars/1" in k_layout


def test_weights_h5_both_ways(files, tmp_path):
    """Keras's .weights.h5 into lstmkit's own build of the model, and lstmkit's back into
    Keras's model."""
    km, lk, folder = files
    km.save_weights(tmp_path / "k.weights.h5")
    ours = load_model(folder / "lstmkit.keras")
    ours.load_weights(tmp_path / "k.weights.h5")
    for a, b in zip(km.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    H.randomize(ours, seed=4)
    ours.save_weights(tmp_path / "l.weights.h5")
    km.load_weights(tmp_path / "l.weights.h5")
    for a, b in zip(ours.get_weights(), km.get_weights()):
        np.testing.assert_array_equal(a, b)
