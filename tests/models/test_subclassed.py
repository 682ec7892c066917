"""Subclassed `lstmkit.Model` (`__init__` + `call`) against the same Keras 3 program."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import lstmkit
from tests.layers.custom_programs import encoder_decoder_program

ATOL = 1e-5


def data(rng: np.random.Generator, n: int = 8):
    source = rng.normal(size=(n, 6, 3)).astype("float32")
    target = rng.normal(size=(n, 4, 2)).astype("float32")
    labels = rng.integers(0, 5, size=(n, 4)).astype("int32")
    return source, target, labels


def both(rng):
    """The encoder-decoder in Keras and in lstmkit, built on data, lstmkit given Keras's weights."""
    source, target, _ = data(rng, 2)
    km, _ = encoder_decoder_program(keras, keras.ops)
    lm, cls = encoder_decoder_program(lstmkit, lstmkit.ops)
    km([source, target])
    lm([source, target])
    lm.set_weights(km.get_weights())
    return km, lm, cls


def max_err(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def test_encoder_decoder_matches_keras_outputs():
    rng = np.random.default_rng(0)
    km, lm, _ = both(rng)
    assert [w.shape for w in lm.get_weights()] == [tuple(w.shape) for w in km.get_weights()]
    source, target, _ = data(rng)
    assert max_err(lm([source, target]), km([source, target])) <= ATOL
    ours, theirs = lm.predict([source, target], verbose=0), km.predict([source, target], verbose=0)
    assert max_err(ours, theirs) <= ATOL
    assert [type(layer).__name__ for layer in lm.layers] == ["LSTM", "LSTM", "Dense"]


def test_encoder_decoder_trains_like_keras():
    rng = np.random.default_rng(1)
    km, lm, _ = both(rng)
    source, target, labels = data(rng, 16)
    for m, lib in ((km, keras), (lm, lstmkit)):
        m.compile(optimizer=lib.optimizers.SGD(0.3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    kh = km.fit([source, target], labels, batch_size=8, epochs=3, shuffle=False, verbose=0)
    lh = lm.fit([source, target], labels, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(lh.history["loss"], kh.history["loss"], atol=1e-5)
    assert lh.history["loss"][-1] < lh.history["loss"][0]
    for a, b in zip(lm.get_weights(), km.get_weights()):
        assert max_err(a, b) <= 1e-5
    ke = km.evaluate([source, target], labels, verbose=0)
    le = lm.evaluate([source, target], labels, verbose=0)
    np.testing.assert_allclose(le, ke, atol=1e-5)


def test_grad_through_subclassed_model_is_pure():
    rng = np.random.default_rng(2)
    km, lm, _ = both(rng)
    source, target, _ = data(rng, 3)
    xs = [jnp.asarray(source), jnp.asarray(target)]

    def loss(p):
        return jnp.sum(lm.apply(p, lm.state, xs)[0] ** 2)

    grads = jax.jit(jax.grad(loss))(lm.params)
    tv = km.trainable_variables

    def kloss(values):
        frozen = [v.value for v in km.non_trainable_variables]
        out, _ = km.stateless_call(values, frozen, [source, target])
        return jnp.sum(out**2)

    by_id = dict(zip(map(id, tv), jax.grad(kloss)([v.value for v in tv])))
    kgrads = [by_id[id(v)] for v in km.weights]  # in get_weights() order, as lstmkit's leaves
    # jax.grad returns dicts with sorted keys: walk them in the parameters' own (Keras) order.
    ours = _in_order(lm.params, grads)
    assert len(ours) == len(kgrads)
    for a, b in zip(ours, kgrads):
        assert max_err(a, b) <= ATOL


def _in_order(ref, tree) -> list:
    """The leaves of `tree` in the key order of `ref`, a nested dict of the same structure."""
    if isinstance(ref, dict):
        return [leaf for k in ref for leaf in _in_order(ref[k], tree[k])]
    return [tree]


def test_summary_and_weights_api():
    rng = np.random.default_rng(3)
    _, lm, _ = both(rng)
    lines = []
    lm.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "LSTM" in text and "Dense" in text
    n = sum(int(np.prod(w.shape)) for w in lm.get_weights())
    assert f"Total params: {n:,}" in text
    weights = lm.get_weights()
    lm.set_weights([w * 0 for w in weights])
    assert all(np.all(w == 0) for w in lm.get_weights())


def test_save_load_round_trip_and_keras_interop(tmp_path):
    rng = np.random.default_rng(4)
    km, lm, cls = both(rng)
    source, target, labels = data(rng, 8)
    lm.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    lm.fit([source, target], labels, epochs=1, verbose=0)
    path = str(tmp_path / "l.keras")
    lm.save(path)
    back = lstmkit.models.load_model(path, custom_objects={"EncoderDecoder": cls})
    assert type(back) is cls
    assert max_err(back.predict([source, target], verbose=0),
                   lm.predict([source, target], verbose=0)) == 0.0  # fmt: skip
    # lstmkit's file in Keras, and Keras's file in lstmkit.
    k_back = keras.models.load_model(path)
    assert max_err(k_back.predict([source, target], verbose=0),
                   lm.predict([source, target], verbose=0)) <= ATOL  # fmt: skip
    kpath = str(tmp_path / "k.keras")
    km.save(kpath)
    l_back = lstmkit.models.load_model(kpath)
    assert max_err(l_back.predict([source, target], verbose=0),
                   km.predict([source, target], verbose=0)) <= ATOL  # fmt: skip


def test_unregistered_subclassed_model_is_refused(tmp_path):
    rng = np.random.default_rng(5)
    km, _ = encoder_decoder_program(keras, keras.ops, package="nowhere")
    source, target, _ = data(rng, 2)
    km([source, target])
    km.save(str(tmp_path / "k.keras"))
    lstmkit.saving.get_custom_objects().pop("nowhere>EncoderDecoder", None)
    with pytest.raises(ValueError, match="EncoderDecoder"):
        lstmkit.models.load_model(str(tmp_path / "k.keras"))
