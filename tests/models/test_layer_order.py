"""`model.layers` in Keras 3's order (models/layer_order.py, used by Model and by the weight
files): branching graphs, a layer called twice, an input no output depends on."""

import keras
import numpy as np
import pytest

import lstmkit


def _build(lib, graph):
    L = lib.layers
    a = lib.Input(shape=(4, 3), name="a")
    b = lib.Input(shape=(4, 3), name="b")
    if graph == "branches":
        left = L.LSTM(2, return_sequences=True, name="left")(a)
        right = L.Dense(2, name="right")(L.Dense(3, name="pre")(b))
        out = L.Dense(1, name="out")(left)
        return lib.Model([a, b], [out, L.Dense(1, name="rout")(right)])
    if graph == "shared":
        shared = L.Dense(3, name="shared")
        y = shared(L.Dense(3, name="first")(shared(a)))
        return lib.Model(a, L.LSTM(2, name="last")(y))
    if graph == "unused_input":
        return lib.Model([a, b], L.LSTM(2, name="only")(L.Dense(3, name="d")(a)))
    raise ValueError(graph)


@pytest.mark.parametrize("graph", ["branches", "shared", "unused_input"])
def test_layers_in_keras_order(graph):
    theirs = [layer.name for layer in _build(keras, graph).layers]
    ours = [layer.name for layer in _build(lstmkit, graph).layers]
    assert ours == theirs


def test_a_model_with_an_unused_input_saves_and_keras_opens_it(tmp_path):
    model = _build(lstmkit, "unused_input")
    model.save(tmp_path / "m.keras")
    theirs = keras.models.load_model(tmp_path / "m.keras")
    assert [layer.name for layer in theirs.layers] == [layer.name for layer in model.layers]
    x = [np.ones((2, 4, 3), "float32"), np.zeros((2, 4, 3), "float32")]
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-6)
