"""The non-recurrent layers in ONNX Runtime against lstmkit: Embedding (mask_zero feeding a
recurrent layer), Dense with every element-wise activation, Activation, Dropout, Masking,
pooling over time (masked and not), TimeDistributed(Dense), Flatten, Reshape; at opsets 14 and 18
(reductions take their axes as an input from 18)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import lstmkit
from tests.export.helpers import assert_matches, randomize, session

L = lstmkit.layers
ELEMENTWISE = ["linear", "relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax",
               "hard_sigmoid", "elu", "selu", "softplus", "softsign", "leaky_relu",
               "exponential", "silu", "hard_silu", "gelu", "mish", "log_sigmoid", "hard_tanh",
               "tanh_shrink"]  # fmt: skip


def test_dense_and_every_activation():
    x = lstmkit.Input((None, 4))
    h = L.Dropout(0.5)(L.Dense(6, activation="tanh")(x))
    outs = [L.Activation(a)(h) for a in ELEMENTWISE] + [L.Dense(3, use_bias=False)(h)]
    model = lstmkit.Model(x, outs)
    randomize(model, scale=1.0)
    sess = session(model)
    data = 2 * np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    assert_matches(sess, model, data)


@pytest.mark.parametrize("opset", [14, 18])
def test_embedding_mask_zero_pooling_and_time_distributed(opset):
    ids = lstmkit.Input((None,), dtype="int32")
    e = L.Embedding(12, 5, mask_zero=True)(ids)
    seq = L.LSTM(4, return_sequences=True)(e)
    td = L.TimeDistributed(L.Dense(3, activation="softmax"))(seq)
    avg = L.GlobalAveragePooling1D()(seq)  # mask-aware, as Keras
    mx = L.GlobalMaxPooling1D(keepdims=True)(seq)  # masks ignored, as Keras
    flat = L.Flatten()(L.Reshape((-1, 2))(avg))
    model = lstmkit.Model(ids, [td, avg, mx, flat])
    randomize(model, seed=1)
    sess = session(model, opset=opset)
    data = np.random.default_rng(0).integers(1, 12, size=(4, 7)).astype("int32")
    data[0, 4:] = 0  # right padding
    data[1, :2] = 0  # left padding
    data[2, 3] = 0  # a hole
    assert_matches(sess, model, data)


def test_masking_and_unmasked_pooling_channels_first():
    x = lstmkit.Input((None, 3))
    m = L.Masking(mask_value=0.5)(x)
    avg = L.GlobalAveragePooling1D()(L.SimpleRNN(4, return_sequences=True)(m))
    cf = L.GlobalAveragePooling1D(data_format="channels_first")(x)
    model = lstmkit.Model(x, [m, avg, cf])
    randomize(model, seed=4)
    sess = session(model)
    data = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    data[0, 3:] = 0.5
    assert_matches(sess, model, data)


def test_model_export_spelling(tmp_path):
    """`model.export(path, format="onnx")` (Keras's spelling) writes the same graph."""
    model = lstmkit.Sequential([lstmkit.Input((None, 2)), L.GRU(3), L.Dense(1)])
    randomize(model)
    path = tmp_path / "m.onnx"
    model.export(path, format="onnx", opset_version=15)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 15
    assert [n.op_type for n in proto.graph.node].count("GRU") == 1
    with pytest.raises(ValueError, match="format='tf_saved_model' is not supported"):
        model.export(tmp_path / "m", format="tf_saved_model")
