"""`.keras` files with the merging, reshaping and Lambda layers, both ways with real Keras 3:
the same predictions, the same config.json and weight layout, masks through merging layers (Keras
records them as operations), and Lambda's bytecode loaded only with safe_mode=False."""

import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.layers.lambda_layer import safe_mode_scope
from lstmkit.models import load_model
from lstmkit.saving.keras_format import KerasFileError
from tests.saving import saving_helpers as H

T, F, U = H.T, H.F, H.U


def merge_zoo(lib):
    """Two masked sequences through every new layer; an LSTM or pooling reads each mask a
    merging layer makes."""
    L = lib.layers
    x, y = lib.Input((T, F), name="x"), lib.Input((T, F), name="y")
    mx, my = L.Masking(name="mx")(x), L.Masking(name="my")(y)
    s = L.Add(name="add")([L.Subtract(name="sub")([mx, my]), L.Multiply(name="mul")([mx, my])])
    s = L.Average(name="avg")([s, L.Minimum(name="min")([mx, my])])
    pooled = L.Lambda(lambda t: t * 2.0, name="lam")(L.GlobalAveragePooling1D(name="pool")(s))
    enc = L.LSTM(U, name="enc", **H.Z)(L.Maximum(name="max")([mx, my]))
    dec = L.LSTM(U, return_sequences=True, name="dec", **H.Z)(L.RepeatVector(T, name="rep")(enc))
    d = L.Dot(axes=(1, 1), normalize=True, name="dot")([dec, L.Permute((1, 2), name="perm")(x)])
    # one input masked, one not: Keras's mask ops ExpandDims, ZerosLike, LogicalOr, OnesLike...
    cat_t = L.LSTM(U, name="cat_lstm", **H.Z)(L.Concatenate(axis=1, name="cat_t")([mx, y]))
    out = L.Dense(2, name="out", **H.ZD)(L.Concatenate(name="heads")([pooled, cat_t, enc]))
    return lib.Model([x, y], [out, d], name="merge_zoo")


def _data(seed=0):
    x, _ = H.zoo_data(seed)
    y = np.random.default_rng(seed + 1).normal(size=x.shape).astype("float32")
    y[0, 4:] = 0.0  # masked a step after x's padding
    y[2, :2] = 0.0
    return [x, y]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    warnings.simplefilter("ignore")
    folder = tmp_path_factory.mktemp("merge")
    keras.backend.clear_session()
    km = merge_zoo(keras)
    H.randomize(km, seed=4)
    km.save(folder / "keras.keras")
    expected = km.predict(_data(), verbose=0)
    lk = load_model(folder / "keras.keras", safe_mode=False)
    lk.save(folder / "rewritten.keras")
    lm = merge_zoo(lstmkit)  # lstmkit's own build, Keras's weights
    lm.set_weights(km.get_weights())
    lm.save(folder / "lstmkit.keras")
    return km, lk, lm, folder, expected


def test_keras_file_read_by_lstmkit_and_written_back(files):
    km, lk, _, folder, expected = files
    x = _data()
    assert H.max_diff(lk.predict(x, verbose=0), expected) < 1e-5
    # the same config and layout as Keras's own file: Keras reads it as it reads its own
    k_config, k_layout = H.read_keras_file(folder / "keras.keras")
    config, layout = H.read_keras_file(folder / "rewritten.keras")
    assert H.without_object_ids(config) == H.without_object_ids(k_config)
    assert layout == k_layout
    ops = {e["class_name"] for e in k_config["config"]["layers"] if "ops" in str(e["module"])}
    assert {"LogicalOr", "ExpandDims", "ZerosLike", "OnesLike", "Concatenate"} <= ops


def test_lstmkit_built_model_loads_in_keras(files):
    km, _, _, folder, expected = files
    x = _data()
    kk = keras.models.load_model(folder / "lstmkit.keras", safe_mode=False)
    assert H.max_diff(kk.predict(x, verbose=0), expected) < 1e-5
    assert [layer.name for layer in kk.layers] == [layer.name for layer in km.layers]
    # lstmkit writes the mask operations Keras records after merging layers, so the file is
    # the one Keras writes for the same model
    k_config, k_layout = H.read_keras_file(folder / "keras.keras")
    config, layout = H.read_keras_file(folder / "lstmkit.keras")
    assert H.without_object_ids(config) == H.without_object_ids(k_config)
    assert layout == k_layout


def test_lambda_bytecode_needs_safe_mode_false(files):
    _, lk, _, folder, _ = files
    for path in ("keras.keras", "lstmkit.keras"):
        with pytest.raises(KerasFileError, match=r"'lam' \(Lambda\).*safe_mode=False"):
            load_model(folder / path)
    config = lk.get_layer("lam").get_config()
    with pytest.raises(ValueError, match="safe_mode=False"):
        lstmkit.layers.Lambda.from_config(config)  # outside load_model: safe, as Keras
    with safe_mode_scope(False):
        fn = lstmkit.layers.Lambda.from_config(config).function
    assert float(fn(np.float32(1.5))) == 3.0
    k = 4.0  # a closure and a default travel with the bytecode, as in Keras
    layer = keras.layers.Lambda(lambda t, b=1.0: t * k + b, name="closure")
    config = keras.saving.serialize_keras_object(layer)["config"]
    with safe_mode_scope(False):
        ours = lstmkit.layers.Lambda.from_config(config)
    assert float(ours.function(np.float32(2.0))) == 9.0


def scale_by_three(t):
    return t * 3.0


def test_lambda_with_a_named_function_loads_through_custom_objects(tmp_path):
    warnings.simplefilter("ignore")
    x = keras.Input((F,))
    model = keras.Model(x, keras.layers.Lambda(scale_by_three, name="named")(x))
    model.save(tmp_path / "named.keras")
    with pytest.raises(KerasFileError, match=r"'named' \(Lambda\).*'scale_by_three'.*custom_obj"):
        load_model(tmp_path / "named.keras", safe_mode=False)
    lm = load_model(tmp_path / "named.keras", custom_objects={"scale_by_three": scale_by_three})
    data = np.ones((2, F), "float32")
    np.testing.assert_allclose(lm.predict(data, verbose=0), 3 * data)
