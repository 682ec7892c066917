"""The merging layers (classes and functional forms), Dot, RepeatVector and Permute in ONNX
Runtime against lstmkit, in one functional model with three inputs and many outputs: masked
and unmasked inputs mixed, a lower-rank input, the output masks checked through mask-aware
pooling and a recurrent layer; two batch sizes and time lengths, opsets 14 and 18."""

from __future__ import annotations

import numpy as np
import pytest

import lstmkit
from lstmkit.export import ExportError, build_onnx
from tests.export.helpers import assert_matches, predict, randomize, session

L = lstmkit.layers


def _model():
    ia = lstmkit.Input((None,), dtype="int32", name="ids_a")
    ib = lstmkit.Input((None,), dtype="int32", name="ids_b")
    x = lstmkit.Input((None, 3), name="x")  # no mask
    v = lstmkit.Input((3,), name="v")  # lower rank: (batch, 1, 3) against sequences
    kept = lstmkit.Input((None,), name="kept")  # a float mask, given as `mask=`
    a = L.Embedding(9, 3, mask_zero=True)(ia)
    b = L.Embedding(9, 3, mask_zero=True)(ib)
    masked = [
        L.Add()([a, b]),
        L.multiply([a, b]),
        L.Average()([a, b, x]),
        L.Maximum()([a, b]),
        L.minimum([a, b]),
        L.Concatenate()([a, b]),
        L.concatenate([a, x]),  # one input unmasked: every step kept
        L.concatenate([a, b], axis=1),  # along time: the masks joined
        L.Maximum()([x, a], mask=[kept, None]),  # `mask=` wins over the inputs' own
    ]
    plain = [
        L.subtract([a, x]),
        L.Multiply()([a, x, v]),
        L.maximum([x, a]),
        L.Minimum()([a, b, x]),
        L.average([x, v]),
        L.concatenate([x, b], axis=1),
        L.Dot(axes=2)([a, x]),  # (batch, t, t)
        L.dot([a, x], axes=(1, 1)),  # (batch, 3, 3)
        L.Dot(axes=(2, 1))([a, v]),  # (batch, t)
        L.dot([v, v], axes=-1, normalize=True),  # cosine: (batch, 1)
        L.Permute((2, 1))(x),
        L.LSTM(2, return_sequences=True)(L.RepeatVector(4)(v)),
    ]
    pooled = [L.GlobalAveragePooling1D()(t) for t in masked]  # the mean over unmasked steps
    recurrent = L.SimpleRNN(2)(L.concatenate([a, b], axis=1))  # the joined mask skips steps
    model = lstmkit.Model([ia, ib, x, v, kept], masked + plain + pooled + [recurrent])
    randomize(model, seed=3, scale=1.0)
    return model


def _data(rng, batch, time):
    ids = [rng.integers(1, 9, size=(batch, time)).astype("int32") for _ in range(2)]
    ids[0][0, time - 2 :] = 0  # right padding
    ids[0][1, :2] = 0  # left padding
    ids[1][0, 1] = 0  # a hole
    ids[1][-1, -3:] = 0
    ids[0][-1, -3:] = 0  # masked in both: Multiply gives 0 there
    x = rng.normal(size=(batch, time, 3)).astype("float32")
    kept = (rng.random((batch, time)) > 0.4).astype("float32")
    return [*ids, x, rng.normal(size=(batch, 3)).astype("float32"), kept]


@pytest.fixture(scope="module")
def exported():
    model = _model()
    rng = np.random.default_rng(0)
    cases = [_data(rng, 2, 6), _data(rng, 3, 4)]  # dynamic batch and time
    return model, cases, [predict(model, *c) for c in cases]


@pytest.mark.parametrize("opset", [14, 18])
def test_merging_layers_match(exported, opset):
    model, cases, wants = exported
    sess = session(model, opset=opset)
    assert [i.name for i in sess.get_inputs()] == ["ids_a", "ids_b", "x", "v", "kept"]
    for data, want in zip(cases, wants):
        assert_matches(sess, model, *data, want=want)


@pytest.mark.parametrize(
    "masks, message",
    [(2, "gets a mask of rank 3"), (1, r"merges 2 inputs with a `mask=` of 1")],
)
def test_merge_mask_argument_the_export_cannot_spread_is_refused(masks, message):
    """A `mask=` as large as the value, or fewer masks than inputs: refused, naming the layer."""
    x = lstmkit.Input((None, 4))
    m = lstmkit.Input((None, 4), dtype="bool")
    model = lstmkit.Model([x, m], L.Add(name="plus")([x, x], mask=[m] * masks))
    with pytest.raises(ExportError, match=f"layer 'plus' {message}"):
        build_onnx(model)
