"""Attention, AdditiveAttention, MultiHeadAttention and EinsumDense against real Keras 3."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import lstmkit
import lstmkit.layers as L
from tests.layers import keras_twin
from tests.layers.keras_twin import assert_same

RNG = np.random.default_rng(5)
Q = keras_twin.randn(RNG, 2, 4, 3)
V = keras_twin.randn(RNG, 2, 5, 3)
Q_MASK = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
V_MASK = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)


def twins(make, build):
    theirs, ours = make(keras.layers), make(L)
    build(theirs)
    build(ours)
    keras_twin.copy_random_weights(RNG, theirs, ours)
    return ours, theirs


def keras_config(layer):
    """Keras's config with the dtype as a name and without the (counter-dependent) name."""
    config = layer.get_config()
    config["dtype"] = config["dtype"]["config"]["name"] if isinstance(config["dtype"], dict) \
        else config["dtype"]  # fmt: skip
    config.pop("name")
    return config


def our_config(layer):
    config = layer.get_config()
    config.pop("name")
    return config


# ----- Attention, AdditiveAttention ----------
ATTENTIONS = {
    "dot": lambda lib: lib.Attention(),
    "dot_scaled": lambda lib: lib.Attention(use_scale=True),
    "concat_scaled": lambda lib: lib.Attention(use_scale=True, score_mode="concat"),
    "additive": lambda lib: lib.AdditiveAttention(),
    "additive_unscaled": lambda lib: lib.AdditiveAttention(use_scale=False, dropout=0.2),
}


@pytest.mark.parametrize("kind", list(ATTENTIONS))
def test_attention_layers_match_keras(kind):
    ours, theirs = twins(ATTENTIONS[kind], lambda layer: layer([Q, V]))
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert_same(ours([Q, V]), theirs([Q, V]))
    assert_same(ours([Q, V, Q[:, :1].repeat(5, 1)]), theirs([Q, V, Q[:, :1].repeat(5, 1)]))
    kw = {"mask": [Q_MASK, V_MASK], "return_attention_scores": True, "use_causal_mask": True}
    got = ours([Q, V], **kw)
    assert_same(got, theirs([Q, V], **kw))
    assert np.all(np.asarray(got[0])[0, 3] == 0.0)  # a masked query step gives zeros
    assert_same(ours([Q, V], mask=[None, V_MASK]), theirs([Q, V], mask=[None, V_MASK]))
    assert keras_config(theirs) == our_config(ours)
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_attention_dropout_only_in_training():
    layer = L.Attention(dropout=0.5)
    assert_same(layer([Q, V]), keras.layers.Attention(dropout=0.5)([Q, V]))
    a, b = np.asarray(layer([Q, V], training=True)), np.asarray(layer([Q, V], training=True))
    assert np.abs(a - b).max() > 1e-3  # a fresh dropout mask per call


def test_attention_errors_name_the_layer():
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="general")
    with pytest.raises(ValueError, match=r"'att'.*\[query, value\]"):
        L.Attention(name="att")(Q)
    with pytest.raises(ValueError, match="mask"):
        L.Attention()([Q, V], mask=V_MASK)


def test_attention_in_a_functional_model_takes_both_masks():
    """Masking on the value: Keras hands Attention [query_mask, value_mask] from the graph."""
    v = V.copy()
    v[0, 3:] = 0.0

    def build(lib):
        q_in, v_in = lib.Input((4, 3)), lib.Input((5, 3))
        out = lib.layers.Attention()([q_in, lib.layers.Masking()(v_in)])
        return lib.Model([q_in, v_in], out)

    assert_same(build(lstmkit)([Q, v]), build(keras)([Q, v]))


def test_symbolic_shapes():
    q, v = lstmkit.Input((4, 3)), lstmkit.Input((5, 3))
    out, scores = L.Attention()([q, v], return_attention_scores=True)
    assert out.shape == (None, 4, 3) and scores.shape == (None, 4, 5)
    out, scores = L.MultiHeadAttention(2, 3, output_shape=(6,))(q, v, return_attention_scores=True)
    assert out.shape == (None, 4, 6) and scores.shape == (None, 2, 4, 5)


# ----- MultiHeadAttention ----------
MHA = {
    "default": {},
    "value_dim_output_shape": {
        "value_dim": 2,
        "output_shape": 5,
        "use_bias": False,
        "dropout": 0.1,
    },  # fmt: skip
    "gate": {"use_gate": True, "output_shape": (3,)},
}


@pytest.mark.parametrize("kind", list(MHA))
def test_multi_head_attention_matches_keras(kind):
    kw = MHA[kind]
    kw = {"kernel_initializer": "zeros", **kw}  # random kernels compile per shape; overwritten
    ours, theirs = twins(lambda lib: lib.MultiHeadAttention(2, 3, **kw),
                         lambda layer: layer(Q, V))  # fmt: skip
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert_same(ours(Q, V), theirs(Q, V))
    assert_same(ours(Q, V, V * 0.5), theirs(Q, V, V * 0.5))
    both = {"value_mask": V_MASK, "use_causal_mask": True}
    assert_same(ours(Q, V, **both), theirs(Q, V, **both))
    attention_mask = Q_MASK[:, :, None] & V_MASK[:, None, :]
    got = ours(query=Q, value=V, attention_mask=attention_mask, return_attention_scores=True)
    want = theirs(query=Q, value=V, attention_mask=attention_mask, return_attention_scores=True)
    assert_same(got, want)
    assert keras_config(theirs) == our_config(ours)


def test_multi_head_attention_sub_layers_as_keras():
    ours = L.MultiHeadAttention(2, 3, name="mha")
    ours(Q, V)
    # Keras's build order; softmax and dropout hold no weights
    assert list(ours.params) == ["query_dense", "key_dense", "value_dense", "_softmax",
                                 "_dropout_layer", "output_dense"]  # fmt: skip
    dense = ["query_dense", "key_dense", "value_dense", "output_dense"]
    assert [ours.params[k]["kernel"].shape for k in dense] == [
        (3, 2, 3), (3, 2, 3), (3, 2, 3), (2, 3, 3)]  # fmt: skip
    assert [ours.query_dense.name, ours.output_dense.name] == ["query", "attention_output"]
    assert ours.get_config()["attention_axes"] == (1,)


def test_multi_head_attention_query_mask_from_the_graph():
    q = Q.copy()
    q[0, 3] = 0.0

    def build(lib):
        q_in, v_in = lib.Input((4, 3)), lib.Input((5, 3))
        return lib.Model([q_in, v_in],
                         lib.layers.MultiHeadAttention(2, 3, name="m")(lib.layers.Masking()(q_in),
                                                                        v_in))  # fmt: skip

    ours, theirs = build(lstmkit), build(keras)
    theirs.set_weights(ours.get_weights())
    assert_same(ours([q, V]), theirs([q, V]))


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(0, 3)
    with pytest.raises(ValueError, match="query.*value"):
        L.MultiHeadAttention(2, 3)(Q)
    with pytest.raises(ValueError, match="value and key"):
        L.MultiHeadAttention(2, 3)(Q, V, Q)


# ----- EinsumDense ----------
@pytest.mark.parametrize("equation, shape, bias", [("ab,bc->ac", 4, "c"),
                                                   ("abc,cde->abde", (None, 2, 3), "de"),
                                                   ("...b,bc->...c", 4, None)])  # fmt: skip
def test_einsum_dense_matches_keras(equation, shape, bias):
    x = Q if equation.startswith(("abc", "...")) else Q[:, 0]
    ours, theirs = twins(lambda lib: lib.EinsumDense(equation, shape, bias_axes=bias,
                                                     activation="tanh",
                                                     kernel_initializer="zeros"),
                         lambda layer: layer(x))  # fmt: skip
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert_same(ours(x), theirs(x))
    config = keras_config(theirs)
    config.pop("quantization_config")
    assert config == our_config(ours)


def test_multi_head_attention_dropout_only_in_training():
    layer = L.MultiHeadAttention(2, 3, dropout=0.5)
    a, b = np.asarray(layer(Q, V, training=True)), np.asarray(layer(Q, V, training=True))
    assert np.abs(a - b).max() > 1e-3  # a fresh dropout mask per call
    np.testing.assert_array_equal(np.asarray(layer(Q, V)), np.asarray(layer(Q, V)))
