"""lstmkit.mixed_precision against Keras 3's: the policy API, and layers and a short fit under
"mixed_bfloat16" (float32 weights, bfloat16 computations) compared with real Keras on the same
weights, to bfloat16's precision (a few units in its last place, ~1e-2 relative)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L
from lstmkit import mixed_precision as mp
from lstmkit.saving.config import keras_layer_config


@pytest.fixture
def mixed():
    """Both libraries under mixed_bfloat16 for one test; Keras's initial weights seeded."""
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    mp.set_global_policy("mixed_bfloat16")
    yield
    keras.mixed_precision.set_global_policy("float32")
    mp.set_global_policy("float32")


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16", "float32", "bfloat16"])
def test_policy_as_keras(name):
    ours, theirs = mp.Policy(name), keras.mixed_precision.Policy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype)  # fmt: skip
    assert repr(ours) == repr(theirs)
    layer = L.Dense(2, dtype=name)
    assert (layer.dtype_policy, layer.dtype, layer.compute_dtype) == (
        ours, theirs.variable_dtype, theirs.compute_dtype)  # fmt: skip


def test_global_policy_and_errors():
    assert mp.global_policy().name == "float32"
    mp.set_global_policy("mixed_bfloat16")
    try:
        assert L.LSTM(2).dtype_policy.name == "mixed_bfloat16"
        assert L.LSTM(2, dtype="float32").cell.compute_dtype == "float32"
        assert mp.DTypePolicy().name == "mixed_bfloat16"
        stacked = L.RNN([L.LSTMCell(3), L.GRUCell(2)], return_sequences=True)
        assert str(stacked(np.ones((2, 4, 5), "float32")).dtype) == "bfloat16"
    finally:
        mp.set_global_policy("float32")
    assert L.Dense(2).compute_dtype == "float32"
    with pytest.raises(ValueError, match="cannot make a policy of 'mixed_int8'"):
        mp.set_global_policy("mixed_int8")
    with pytest.raises(ValueError, match="set_global_policy: expected a policy name"):
        mp.set_global_policy(3)


def test_policy_saved_and_read_back():
    config = keras_layer_config(L.LSTM(2, dtype="mixed_bfloat16"))
    assert config["dtype"]["config"]["name"] == "mixed_bfloat16"  # as Keras writes it
    assert L.LSTM.from_config(config).cell.compute_dtype == "bfloat16"


def _same_layer(cls, kwargs, x):
    k = getattr(keras.layers, cls)(**kwargs)
    ours = getattr(L, cls)(**kwargs)
    want = k(x)
    ours(x)
    ours.set_weights(k.get_weights())
    return ours(x), want, ours


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        ("Dense", {"units": 5, "activation": "tanh"}),
        ("LSTM", {"units": 5, "return_sequences": True}),
        ("GRU", {"units": 5, "return_sequences": True}),
        ("Embedding", {"input_dim": 7, "output_dim": 3}),
    ],  # fmt: skip
)
def test_layer_matches_keras(mixed, cls, kwargs):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, (4, 6)) if cls == "Embedding" else rng.normal(size=(4, 6, 3))
    x = x.astype("int32" if cls == "Embedding" else "float32")
    got, want, layer = _same_layer(cls, kwargs, x)
    assert str(got.dtype) == str(want.dtype) == "bfloat16"
    assert all(str(w.dtype) == "float32" for w in layer.weights)
    got, want = np.asarray(got, "float32"), np.asarray(want, "float32")
    # lstmkit's LSTM carries c in float32 where Keras's rounds it to bfloat16 at every step
    # (mixed_precision's docstring): a few more units in bfloat16's last place between the two.
    tol = 2e-2 if cls == "LSTM" else 1e-2
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def _model(lib, x):
    """Embedding -> LSTM -> Dense -> float32 softmax (Keras's advice), and the LSTM's output."""
    layers = lib.layers
    inputs = layers.Input((x.shape[1],), dtype="int32")
    hidden = layers.LSTM(6)(layers.Embedding(11, 4)(inputs))
    outputs = layers.Activation("softmax", dtype="float32")(layers.Dense(5)(hidden))
    model = lib.Model(inputs, outputs)
    model.compile(optimizer=lib.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    return model, lib.Model(inputs, hidden)


def test_fit_matches_keras(mixed):
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 11, (8, 5)).astype("int32"), rng.integers(0, 5, (8,))
    (k, _), (ours, inner) = _model(keras, x), _model(lstmkit, x)
    ours.set_weights(k.get_weights())
    assert str(ours.predict(x, verbose=0).dtype) == "float32"
    assert str(inner.predict(x, verbose=0).dtype) == "bfloat16"  # the LSTM computes in bf16
    h_k = k.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"]
    h_o = ours.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h_o, h_k, rtol=1e-2)
    for got, want in zip(ours.get_weights(), k.get_weights()):
        assert got.dtype == np.float32
        # atol 5e-3 (was 2e-3): the float32 cell state (the LSTM test above) moves the bfloat16
        # gradients by a few units in their last place; 2e-3 failed for 1 in 8 Keras seeds.
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=5e-3)


def test_mixed_model_files_load(mixed, tmp_path):
    """A mixed_bfloat16 model file loads with its policy (it was refused: "dtype policy
    'mixed_bfloat16' is not supported"), Keras's into lstmkit and lstmkit's (a Bidirectional LSTM,
    whose copies keep the policy) back into lstmkit and into Keras."""
    x = np.random.default_rng(4).normal(size=(2, 5, 3)).astype("float32")
    k = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4), keras.layers.Dense(2)])
    k.save(tmp_path / "k.keras")
    ours = lstmkit.models.load_model(tmp_path / "k.keras")
    assert ours.layers[0].dtype_policy.name == "mixed_bfloat16"
    want = np.asarray(k.predict(x, verbose=0), "float32")
    got = np.asarray(ours.predict(x, verbose=0), "float32")
    np.testing.assert_allclose(got, want, rtol=2e-2, atol=2e-2 * np.abs(want).max())
    bi = lstmkit.Sequential([L.Input((5, 3)), L.Bidirectional(L.LSTM(4)), L.Dense(2)])
    bi.save(tmp_path / "bi.keras")
    back = lstmkit.models.load_model(tmp_path / "bi.keras").layers[0]
    assert back.backward_layer.cell.dtype_policy.name == "mixed_bfloat16"
    theirs = keras.models.load_model(tmp_path / "bi.keras").layers[0]
    assert theirs.backward_layer.dtype_policy.name == "mixed_bfloat16"
