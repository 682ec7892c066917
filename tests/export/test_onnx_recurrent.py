"""Recurrent layers exported to ONNX's native LSTM/GRU/RNN operators, run in ONNX Runtime,
against lstmkit's own outputs (themselves checked against Keras 3 in tests/layers/).

`CASES` sweeps the options as a covering set: every layer kind x go_backwards x
return_sequences, the activations ONNX's operators compute (hard_sigmoid included), use_bias,
unit_forget_bias, GRU reset_after both ways, masks (right padding, and left padding, holes and
a fully masked row), Bidirectional in every merge mode. The graphs have dynamic batch and time
axes; `test_stacked_layers_return_state_and_initial_state` runs one at several sizes.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import lstmkit
from tests.export.helpers import assert_matches, randomize, session

L = lstmkit.layers
FEATURES, UNITS = 3, 4
LAYERS = {"lstm": L.LSTM, "gru": L.GRU, "simple": L.SimpleRNN}
ACTIVATIONS = [("tanh", "sigmoid"), ("tanh", "hard_sigmoid"), ("relu", "sigmoid"),
               ("softsign", "hard_sigmoid"), ("elu", "softplus"), ("linear", "tanh"),
               ("leaky_relu", "sigmoid"), ("tanh", "hard_sigmoid_legacy")]  # fmt: skip
MASKS = [None, "right", "mixed"]


@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    go_backwards: bool = False
    return_sequences: bool = False
    activations: tuple = ("tanh", "sigmoid")
    use_bias: bool = True
    unit_forget_bias: bool = True
    reset_after: bool = True
    mask: str | None = None
    merge_mode: str | None = "none"  # "none": no Bidirectional; None: Bidirectional's list

    def __str__(self) -> str:
        return "-".join(f"{v}" for v in dataclasses.astuple(self))


def _cases() -> list[Case]:
    cases, i = [], 0
    for kind in LAYERS:
        for go_backwards in (False, True):
            for seq in (False, True):
                cases.append(Case(kind, go_backwards, seq, ACTIVATIONS[i % len(ACTIVATIONS)],
                                  use_bias=i % 3 != 2, unit_forget_bias=i % 2 == 0,
                                  reset_after=i % 4 < 2, mask=MASKS[i % 3]))  # fmt: skip
                i += 1
    for mode in ("concat", "sum", "mul", "ave", None):
        for seq in (False, True):
            kind = list(LAYERS)[i % 3]
            act, mask = ACTIVATIONS[i % 4], MASKS[i % 3]
            case = Case(kind, return_sequences=seq, activations=act, reset_after=i % 2 == 0,
                        mask=mask, merge_mode=mode)  # fmt: skip
            cases.append(case)
            i += 1
    return cases


CASES = _cases()


def _layer(c: Case):
    kw = dict(return_sequences=c.return_sequences, go_backwards=c.go_backwards,
              activation=c.activations[0], use_bias=c.use_bias)  # fmt: skip
    if c.kind != "simple":
        kw["recurrent_activation"] = c.activations[1]
    if c.kind == "lstm":
        kw["unit_forget_bias"] = c.unit_forget_bias
    if c.kind == "gru":
        kw["reset_after"] = c.reset_after
    layer = LAYERS[c.kind](UNITS, **kw)
    return layer if c.merge_mode == "none" else L.Bidirectional(layer, merge_mode=c.merge_mode)


def inputs(mask: str | None, batch: int, time: int, seed: int) -> np.ndarray:
    """Random inputs; masked steps are all-zero feature vectors (what Masking() masks)."""
    x = np.random.default_rng(seed).normal(size=(batch, time, FEATURES)).astype("float32")
    for row in range(batch):
        if mask == "right" or (mask == "mixed" and row % 4 == 0):
            x[row, max(1, time - 1 - row) :] = 0  # right padding, lengths varying
        elif mask == "mixed" and row % 4 == 1:
            x[row, : time // 2] = 0  # left padding
        elif mask == "mixed" and row % 4 == 2:
            x[row, 1 : time - 1 : 2] = 0  # holes
        elif mask == "mixed":
            x[row] = 0  # every step masked
    return x


@pytest.mark.parametrize("case", CASES, ids=str)
def test_recurrent_layer_matches_lstmkit(case: Case):
    x = lstmkit.Input((None, FEATURES))
    h = L.Masking(0.0)(x) if case.mask else x
    y = _layer(case)(h)
    model = lstmkit.Model(x, y)
    # A linear activation lets the states grow without bound: smaller weights keep them near 1,
    # where float32 rounding stays far below the tolerance.
    randomize(model, seed=len(str(case)), scale=0.25 if "linear" in case.activations else 0.5)
    sess = session(model)
    assert_matches(sess, model, inputs(case.mask, batch=4, time=6, seed=1))


def test_sweep_covers_every_option():
    assert {(c.kind, c.go_backwards, c.return_sequences) for c in CASES} >= {
        (k, b, s) for k in LAYERS for b in (False, True) for s in (False, True)
    }
    assert {c.activations for c in CASES} == set(ACTIVATIONS)
    assert {c.merge_mode for c in CASES} == {"none", "concat", "sum", "mul", "ave", None}
    assert {(c.kind, c.reset_after) for c in CASES if c.kind == "gru"} == {
        ("gru", True),
        ("gru", False),
    }
    assert {c.mask for c in CASES} == set(MASKS)
    assert {c.unit_forget_bias for c in CASES if c.kind == "lstm"} == {True, False}


def test_stacked_layers_return_state_and_initial_state():
    """A functional encoder/decoder: the encoder's final states start the decoder."""
    enc_in, dec_in = lstmkit.Input((None, FEATURES)), lstmkit.Input((None, 2))
    h = L.LSTM(UNITS, return_sequences=True)(enc_in)
    _, state_h, state_c = L.LSTM(UNITS, return_state=True)(h)
    dec, dh = L.GRU(UNITS, return_sequences=True, return_state=True)(dec_in, initial_state=state_h)
    out = L.TimeDistributed(L.Dense(2))(dec)
    model = lstmkit.Model([enc_in, dec_in], [out, state_c, dh])
    randomize(model, seed=3)
    sess = session(model)
    rng = np.random.default_rng(0)
    for batch, t_enc, t_dec in ((2, 5, 3), (3, 2, 4)):
        a = rng.normal(size=(batch, t_enc, FEATURES)).astype("float32")
        b = rng.normal(size=(batch, t_dec, 2)).astype("float32")
        assert_matches(sess, model, a, b)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_over_a_list_of_cells(go_backwards):
    """RNN([LSTMCell, GRUCell]): one operator per cell, every state returned, masks of any shape."""
    x = lstmkit.Input((None, FEATURES))
    cells = [L.LSTMCell(UNITS), L.GRUCell(2, reset_after=False)]
    outs = L.RNN(cells, return_sequences=True, return_state=True, go_backwards=go_backwards)(
        L.Masking()(x)
    )
    model = lstmkit.Model(x, outs)
    randomize(model, seed=5)
    assert_matches(session(model), model, inputs("mixed", batch=4, time=5, seed=2))


def _exhaustive() -> list[Case]:
    cases = []
    for i, (kind, back, seq, mask, flag) in enumerate(
        itertools.product(LAYERS, (False, True), (False, True), MASKS, (False, True))
    ):
        act = ACTIVATIONS[i % len(ACTIVATIONS)]
        cases.append(Case(kind, back, seq, act, use_bias=flag or kind == "simple",
                          unit_forget_bias=flag, reset_after=flag, mask=mask))  # fmt: skip
    for mode, seq, mask, inner in itertools.product(
        ("concat", "sum", "mul", "ave", None), (False, True), MASKS, LAYERS
    ):
        cases.append(Case(inner, return_sequences=seq, mask=mask, merge_mode=mode))
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("case", _exhaustive(), ids=str)
def test_exhaustive(case: Case):
    """`-m slow`: the full product of layer kind, direction, sequences, mask and the flags."""
    test_recurrent_layer_matches_lstmkit(case)
