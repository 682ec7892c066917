"""Conv1D (valid/same/causal padding, strides, dilation, groups, channels_first), MaxPooling1D and
AveragePooling1D (valid/same, strides), a CNN-LSTM (plain and over sub-sequences through
TimeDistributed), SpatialDropout1D and GaussianNoise (inference no-ops), LayerNormalization and
BatchNormalization (inference) in ONNX Runtime against lstmkit: two batch sizes and time
lengths of both parities (the 'same' padding depends on them), opsets 14 and 18 (reductions
take their axes as an input from 18)."""

from __future__ import annotations

import numpy as np
import pytest

import lstmkit
from tests.export.helpers import assert_matches, predict, randomize, session

L = lstmkit.layers
CONV = [(3, 1, 1), (4, 3, 1), (2, 1, 2)]  # kernel_size, strides, dilation_rate


def _model():
    x = lstmkit.Input((None, 4))
    cf = L.Permute((2, 1))(x)  # (batch, channels, steps)
    outs = [L.Conv1D(5, k, strides=s, dilation_rate=d, padding=p, activation="tanh")(x)
            for p in ("valid", "same", "causal") for k, s, d in CONV]  # fmt: skip
    outs.append(L.Conv1D(4, 3, padding="same", groups=2, use_bias=False,
                         data_format="channels_first")(cf))  # fmt: skip
    outs.append(L.Conv1D(2, 2, padding="causal", activation="softmax")(x))  # over features
    for pool in (L.MaxPooling1D, L.AveragePooling1D):
        outs += [pool(p, strides=s, padding=pad)(x)
                 for pad in ("valid", "same") for p, s in ((3, None), (2, 1))]  # fmt: skip
        outs.append(pool(2, padding="same", data_format="channels_first")(cf))
    features = L.MaxPooling1D(2)(L.Conv1D(6, 3, padding="causal", activation="relu")(x))
    outs.append(L.Bidirectional(L.LSTM(3))(features))  # the usual CNN-LSTM
    noisy = L.GaussianNoise(0.3)(L.SpatialDropout1D(0.5)(x))
    outs += [
        L.LayerNormalization()(noisy),
        L.LayerNormalization(axis=1, epsilon=0.1, center=False)(cf),
        L.LayerNormalization(axis=[-1, 2], scale=False)(L.Reshape((-1, 2, 2))(x)),
        L.LayerNormalization(rms_scaling=True)(x),
        L.BatchNormalization(name="bn_last")(x),
        L.BatchNormalization(axis=1, center=False, scale=False, name="bn_first")(cf),
    ]
    model = lstmkit.Model(x, outs)
    randomize(model, seed=5)
    for name in ("bn_last", "bn_first"):  # moving variances must be positive
        layer = model.get_layer(name)
        layer.set_weights([np.abs(w) + 0.5 if i == len(layer.get_weights()) - 1 else w
                           for i, w in enumerate(layer.get_weights())])  # fmt: skip
    return model


@pytest.fixture(scope="module")
def exported():
    model = _model()
    rng = np.random.default_rng(1)
    cases = [rng.normal(size=(1, 7, 4)).astype("float32"),
             rng.normal(size=(3, 8, 4)).astype("float32")]  # fmt: skip
    return model, cases, [predict(model, c) for c in cases]


@pytest.mark.parametrize("opset", [14, 18])
def test_conv_pooling_normalization_match(exported, opset):
    model, cases, wants = exported
    sess = session(model, opset=opset)
    for data, want in zip(cases, wants):
        assert_matches(sess, model, data, want=want)


def test_masks_pass_the_no_ops_and_normalizations_and_stop_at_conv():
    """A mask rides through the noise layers and normalizations to a recurrent layer; Conv1D
    drops it (as Keras), so the LSTM after it sees every step."""
    ids = lstmkit.Input((None,), dtype="int32")
    e = L.Embedding(7, 4, mask_zero=True)(ids)
    kept = L.LayerNormalization()(L.BatchNormalization(name="bn")(L.SpatialDropout1D(0.2)(e)))
    masked = L.GRU(3)(kept)
    unmasked = L.LSTM(3)(L.Conv1D(4, 2, padding="causal")(e))
    model = lstmkit.Model(ids, [masked, unmasked])
    randomize(model, seed=2)
    bn = model.get_layer("bn")
    bn.set_weights([*bn.get_weights()[:3], np.abs(bn.get_weights()[3]) + 0.5])
    sess = session(model)
    data = np.random.default_rng(0).integers(1, 7, size=(3, 6)).astype("int32")
    data[0, 4:] = 0
    data[1, :2] = 0
    assert_matches(sess, model, data)


def test_time_distributed_cnn_lstm():
    """TimeDistributed(Conv1D, MaxPooling1D, LayerNormalization, Flatten) over sub-sequences,
    then an LSTM: the classic CNN-LSTM over (batch, time, steps, channels)."""
    x = lstmkit.Input((None, 6, 2))
    h = L.TimeDistributed(L.Conv1D(4, 2, activation="relu"))(x)
    h = L.TimeDistributed(L.MaxPooling1D(2))(h)
    h = L.TimeDistributed(L.Flatten())(L.TimeDistributed(L.LayerNormalization())(h))
    model = lstmkit.Model(x, [L.LSTM(3)(h), h])
    randomize(model, seed=6)
    sess = session(model)
    rng = np.random.default_rng(3)
    for batch, time in ((1, 3), (2, 5)):
        assert_matches(sess, model, rng.normal(size=(batch, time, 6, 2)).astype("float32"))
