"""Functional Model and Sequential against real Keras 3: same weights in, same outputs out."""

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L
from lstmkit.models import Model, Sequential
from lstmkit.saving import model_config

ATOL = 1e-5


def copy_weights(ours, theirs):
    for a, b in zip(ours.layers, [lay for lay in theirs.layers]):
        a.set_weights(b.get_weights())


def keras_layers_by_name(model):
    return {layer.name: layer for layer in model.layers}


def test_multi_input_multi_output_shared_layer_matches_keras():
    rng = np.random.default_rng(0)
    xa = rng.normal(size=(4, 5, 3)).astype("float32")
    xb = rng.normal(size=(4, 5, 3)).astype("float32")

    def build(lib):
        a = lib.Input(shape=(5, 3), name="a")
        b = lib.Input(shape=(5, 3), name="b")
        shared = lib.layers.LSTM(4, return_sequences=True, name="shared")
        ya, yb = shared(a), shared(b)
        merged = lib.layers.GRU(3, name="gru")(ya)
        out2 = lib.layers.Dense(2, name="dense")(lib.layers.Flatten(name="flat")(yb))
        return lib.Model(inputs=[a, b], outputs=[merged, out2])

    km, lm = build(keras), build(lstmkit)
    kl = keras_layers_by_name(km)
    for layer in lm.layers:
        layer.set_weights(kl[layer.name].get_weights())
    k_out = km.predict([xa, xb], verbose=0)
    l_out = lm.predict([xa, xb], verbose=0)
    assert len(l_out) == 2
    for k, v in zip(k_out, l_out):
        np.testing.assert_allclose(v, k, atol=ATOL)
    # eager call on arrays gives the same numbers
    eager = lm([xa, xb])
    np.testing.assert_allclose(np.asarray(eager[1]), k_out[1], atol=ATOL)
    assert lm.get_layer("shared") is lm.layers[2]
    assert [lay.name for lay in lm.layers][:2] == ["a", "b"]


def test_mask_propagates_through_graph_like_keras():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, 20, size=(3, 6))
    ids[0, 4:] = 0
    ids[1, :2] = 0

    def build(lib):
        x = lib.Input(shape=(6,), dtype="int32")
        e = lib.layers.Embedding(20, 4, mask_zero=True, name="emb")(x)
        h = lib.layers.LSTM(5, return_sequences=True, name="l1")(e)
        y = lib.layers.LSTM(3, name="l2")(h)
        return lib.Model(x, y)

    km, lm = build(keras), build(lstmkit)
    kl = keras_layers_by_name(km)
    for layer in lm.layers[1:]:
        layer.set_weights(kl[layer.name].get_weights())
    np.testing.assert_allclose(lm.predict(ids, verbose=0), km.predict(ids, verbose=0), atol=ATOL)


def test_nested_model_as_layer():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    inner_in = lstmkit.Input(shape=(4, 3))
    inner = Model(inner_in, L.LSTM(5)(inner_in), name="inner")
    outer_in = lstmkit.Input(shape=(4, 3))
    outer = Model(outer_in, L.Dense(2)(inner(outer_in)))
    want = np.asarray(outer.layers[2](np.asarray(inner(x))))
    np.testing.assert_allclose(outer.predict(x, verbose=0), want, atol=1e-6)
    assert outer.count_params() == inner.count_params() + 5 * 2 + 2


def test_sequential_summary_and_param_counts_equal_keras(capsys):
    def build(lib):
        return lib.Sequential([
            lib.Input(shape=(7, 3)),
            lib.layers.LSTM(8, return_sequences=True),
            lib.layers.Bidirectional(lib.layers.GRU(4)),
            lib.layers.Dense(1),
        ])  # fmt: skip

    km, lm = build(keras), build(lstmkit)
    assert [lay.count_params() for lay in lm.layers] == [lay.count_params() for lay in km.layers]
    assert lm.count_params() == km.count_params()
    lm.summary()
    text = capsys.readouterr().out
    assert "(None, 7, 8)" in text and "(None, 8)" in text and "(None, 1)" in text
    assert f"Total params: {km.count_params():,}" in text


def test_sequential_lazy_build_and_add():
    m = Sequential()
    m.add(L.LSTM(3, return_sequences=True))
    m.add(L.LSTM(2))
    out = m.predict(np.zeros((5, 4, 6), "float32"), verbose=0)
    assert out.shape == (5, 2)
    assert [w.shape for w in m.get_weights()][:3] == [(6, 12), (3, 12), (12,)]


def test_model_get_set_weights_roundtrip():
    m = Sequential([lstmkit.Input(shape=(3, 2)), L.LSTM(4), L.Dense(1)])
    w = [np.random.default_rng(3).normal(size=a.shape).astype("float32") for a in m.get_weights()]
    m.set_weights(w)
    for a, b in zip(m.get_weights(), w):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="expected a list of 5 arrays"):
        m.set_weights(w[:2])


def test_legacy_model_kwargs_warn():
    x = lstmkit.Input(shape=(3, 1))
    y = L.LSTM(2)(x)
    with pytest.warns(DeprecationWarning, match="use `inputs`"):
        m = Model(input=x, output=y)
    assert m.predict(np.zeros((1, 3, 1)), verbose=0).shape == (1, 2)


def test_get_layer_errors_as_keras():
    m = Sequential([lstmkit.Input(shape=(3, 1)), L.LSTM(2, name="enc")], name="seq")
    assert m.get_layer("enc").name == "enc"
    with pytest.raises(ValueError, match=r"No such layer: dec. Existing layers are: \['enc'\]"):
        m.get_layer("dec")


def test_wrong_input_shape_is_a_clear_error():
    m = Sequential([lstmkit.Input(shape=(3, 2)), L.LSTM(2)], name="seq")
    with pytest.raises(ValueError, match=r"expects shape \(None, 3, 2\)"):
        m.predict(np.zeros((4, 3, 5)), verbose=0)


def test_sequential_keeps_its_inputs_name_as_keras():
    m = lstmkit.Sequential([lstmkit.Input((3, 2), name="chars"), lstmkit.layers.Dense(2)])
    k = keras.Sequential([keras.Input((3, 2), name="chars"), keras.layers.Dense(2)])
    ours = model_config.serialize_model(m)["config"]["layers"][0]["config"]["name"]
    assert ours == k.get_config()["layers"][0]["config"]["name"] == "chars"
    assert m.inputs[0].node.layer.name == "chars"
