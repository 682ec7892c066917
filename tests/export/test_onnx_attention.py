"""Attention (dot and concat scores, use_scale, causal, scores returned), AdditiveAttention,
Softmax (one axis, several, a mask argument), EinsumDense and MultiHeadAttention (both of
lstmkit's paths, value/key masks from the graph, attention_mask from an Input, causal, sliding
window, gate, output_shape) in ONNX Runtime against lstmkit: masked queries and values with
left and right padding and a fully masked value row; two batch sizes and time lengths."""

from __future__ import annotations

import numpy as np
import pytest

import lstmkit
from lstmkit.export import ExportError, build_onnx
from tests.export.helpers import assert_matches, predict, randomize, session

L = lstmkit.layers


def _model():
    iq = lstmkit.Input((None,), dtype="int32", name="query_ids")
    iv = lstmkit.Input((None,), dtype="int32", name="value_ids")
    x = lstmkit.Input((None, 4), name="x")
    allowed = lstmkit.Input((None, None), dtype="bool", name="allowed")  # (batch, T, T)
    keep = lstmkit.Input((None, 4), dtype="bool", name="keep")
    weights = lstmkit.Input((None,), name="weights")  # a float mask: nonzero is kept
    q = L.Embedding(9, 4, mask_zero=True)(iq)
    v = L.Embedding(9, 4, mask_zero=True)(iv)
    outs = [
        *L.Attention()([q, v], return_attention_scores=True),
        L.Attention(use_scale=True)([q, v, x]),
        L.Attention(score_mode="concat", use_scale=True)([x, v], use_causal_mask=True),
        L.AdditiveAttention()([q, v]),
        L.AdditiveAttention(use_scale=False)([x, x], use_causal_mask=True),
        L.GlobalAveragePooling1D()(L.Attention()([q, v])),  # the output mask is the query's
        L.Softmax()(x),
        L.Softmax(axis=(1, 2))(x),
        L.Softmax()(x, mask=keep),
        L.EinsumDense(
            "abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", activation="relu"
        )(q),  # fmt: skip
        L.EinsumDense("...b,bc->...c", output_shape=5)(x),
        L.MultiHeadAttention(2, 3)(q, v),  # the fused path
        *L.MultiHeadAttention(2, 3, value_dim=2, output_shape=5)(
            q, v, x, return_attention_scores=True
        ),  # the einsum path, scores out
        L.MultiHeadAttention(2, 3)(x, x, use_causal_mask=True, attention_mask=allowed),
        L.MultiHeadAttention(1, 4, dropout=0.5, use_bias=False, use_gate=True, sliding_window=2)(
            x, v
        ),  # fmt: skip
    ]
    model = lstmkit.Model([iq, iv, x, allowed, keep, weights], outs)
    randomize(model, seed=7)
    return model


def _data(rng, batch, time):
    q = rng.integers(1, 9, size=(batch, time)).astype("int32")
    v = rng.integers(1, 9, size=(batch, time)).astype("int32")
    q[0, time - 2 :] = 0  # right padding
    v[0, :2] = 0  # left padding
    v[-1, :] = 0  # every value masked: fused path uniform, einsum path zeros
    allowed = rng.random((batch, time, time)) > 0.3
    allowed[0, 1] = False
    keep = rng.random((batch, time, 4)) > 0.3
    weights = (rng.random((batch, time)) > 0.3).astype("float32")
    return [q, v, rng.normal(size=(batch, time, 4)).astype("float32"), allowed, keep, weights]


@pytest.fixture(scope="module")
def exported():
    model = _model()
    rng = np.random.default_rng(2)
    cases = [_data(rng, 2, 5), _data(rng, 3, 6)]
    return model, cases, [predict(model, *c) for c in cases]


@pytest.mark.parametrize("opset", [14, 18])
def test_attention_layers_match(exported, opset):
    model, cases, wants = exported
    sess = session(model, opset=opset)
    for data, want in zip(cases, wants):
        assert_matches(sess, model, *data, want=want)


def test_multi_head_attention_over_4d_inputs_is_refused():
    x = lstmkit.Input((3, 5, 4))
    model = lstmkit.Model(x, L.MultiHeadAttention(2, 2, attention_axes=(1, 2), name="mha")(x, x))
    with pytest.raises(ExportError, match=r"layer 'mha' \(MultiHeadAttention\) is called on"):
        build_onnx(model)
