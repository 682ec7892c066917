"""RepeatVector, Permute and Lambda against real Keras 3: numbers, shapes, masks, configs."""

import json

import jax.numpy as jnp
import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.saving.config import serialize_layer
from tests.layers.keras_twin import assert_same

B, T, F = 3, 4, 3


def _seq(seed=0):
    x = np.random.default_rng(seed).normal(size=(B, T, F)).astype("float32")
    x[0, 2:] = 0.0
    return x


def _graph(lib):
    """Masks through Permute/RepeatVector/Lambda decide what the LSTMs after them see."""
    L = lib.layers
    x = lib.Input((T, F), name="x")
    m = L.Masking(name="m")(x)
    lstm = dict(kernel_initializer="ones", recurrent_initializer="ones")
    perm = L.Permute((2, 1), name="perm")(m)  # (batch, F, T): the mask is dropped
    rep = L.RepeatVector(2, name="rep")(L.LSTM(2, name="enc", **lstm)(m))
    keep = L.Lambda(lambda t: t * 2.0, mask=lambda i, mk: mk, name="keep")(m)
    drop = L.Lambda(lambda t, k: t + k, arguments={"k": 1.0}, name="drop")(m)
    shaped = L.Lambda(lambda t: t[:, :, :2], output_shape=(T, 2), name="shaped")(x)
    outs = [perm, rep, L.LSTM(2, name="after_perm", **lstm)(perm),
            L.LSTM(2, name="after_keep", **lstm)(keep),
            L.LSTM(2, name="after_drop", **lstm)(drop), shaped]  # fmt: skip
    return lib.Model(x, outs)


@pytest.fixture(scope="module")
def models():
    keras.backend.clear_session()
    km, lm = _graph(keras), _graph(lstmkit)
    lm.set_weights(km.get_weights())
    return km, lm


def test_reshaping_and_lambda_layers_match_keras(models):
    km, lm = models
    assert [tuple(t.shape) for t in lm.outputs] == [tuple(t.shape) for t in km.outputs]
    x = _seq()
    assert_same(lm.predict(x, verbose=0), km.predict(x, verbose=0), "reshaping/Lambda model")


def test_permute_on_higher_rank_and_in_sequential():
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 5)).astype("f4")
    assert_same(lstmkit.layers.Permute((3, 1, 2))(x), keras.layers.Permute((3, 1, 2))(x))
    L = lstmkit.layers
    model = lstmkit.Sequential(
        [lstmkit.Input((T, F)), L.Permute((2, 1)), L.Flatten(), L.RepeatVector(2)]
    )
    assert model.predict(_seq(), verbose=0).shape == (B, 2, T * F)


def test_lambda_in_memory_with_any_callable():
    L = lstmkit.layers
    x = _seq(2)

    class Scale:
        def __call__(self, t, factor=3.0, training=None):
            return t * (factor if training else 1.0)

    layer = L.Lambda(Scale(), arguments={"factor": 5.0})
    np.testing.assert_allclose(layer(x), x)
    np.testing.assert_allclose(layer(x, training=True), x * 5.0, rtol=1e-6)
    pair = L.Lambda(lambda ab: ab[0] - ab[1])
    a, b = lstmkit.Input((T, F)), lstmkit.Input((T, F))
    out = pair([a, b])
    assert out.shape == (None, T, F)
    assert L.Lambda(jnp.sum, output_shape=lambda s: (s[0],))(a).shape == (None,)
    assert L.Lambda(lambda t: [t, t], output_shape=[(T,), (F,)])(a)[1].shape == (None, F)
    # a Lambda given a mask function passes its result on; without one, no mask
    assert L.Lambda(lambda t: t, mask=lambda i, m: m).compute_mask(x, "m") == "m"
    assert L.Lambda(lambda t: t).compute_mask(x, "m") is None
    with pytest.raises(TypeError, match="'bad' \\(Lambda\\).*callable"):
        L.Lambda(3, name="bad")


def _config(entry):
    return json.loads(json.dumps(entry))


def test_configs_are_keras_configs():
    fn = lambda t, k: t * k  # noqa: E731  (the same code object for both libraries)
    for lib in (lstmkit, keras):  # the same layers in both
        made = [lib.layers.RepeatVector(3, name="r"), lib.layers.Permute((2, 1), name="p"),
                lib.layers.Lambda(fn, output_shape=(T,), arguments={"k": 2}, name="l")]  # fmt: skip
        if lib is lstmkit:
            ours = [_config(serialize_layer(layer)) for layer in made]
    theirs = [_config(keras.saving.serialize_keras_object(layer)) for layer in made]
    assert ours == theirs


def test_mistakes_get_clear_errors():
    L = lstmkit.layers
    with pytest.raises(ValueError, match="'r' \\(RepeatVector\\).*positive"):
        L.RepeatVector(0, name="r")
    with pytest.raises(TypeError, match="RepeatVector.*integer"):
        L.RepeatVector(2.0)
    with pytest.raises(ValueError, match="'r2' \\(RepeatVector\\) expects a 2-D input"):
        L.RepeatVector(2, name="r2")(lstmkit.Input((T, F)))
    with pytest.raises(ValueError, match="'p' \\(Permute\\).*permutation of 1..2"):
        L.Permute((0, 1), name="p")
    with pytest.raises(ValueError, match="'p2' \\(Permute\\).*expects a 3-D input"):
        L.Permute((2, 1), name="p2")(lstmkit.Input((T, F, 2)))
