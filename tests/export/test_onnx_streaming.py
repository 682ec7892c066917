"""Streaming export: recurrent states as graph inputs and outputs, fed one step at a time.

The character model is the one `lstmkit train` builds (cli/checkpoint.build_model: stateful, so
the export streams by default). 50 characters generated in ONNX Runtime, one step at a time,
equal `lstmkit generate`'s (cli/generate.generate, the model's own streamer) with the same seed:
both draw through the same `sample` function from numpy generators seeded alike, so a difference
in the logits would show as a different character.
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.checkpoint import Settings, build_model
from lstmkit.cli.generate import generate, sample
from tests.export.helpers import randomize, run, session

VOCAB = 20
SETTINGS = Settings(units=16, layers=2, embedding=8)
PROMPT = np.array([3, 1, 4, 1, 5], np.int32)


@pytest.fixture(scope="module")
def char_model():
    model = build_model(VOCAB, SETTINGS, batch_size=1)
    randomize(model, seed=7, scale=0.8)
    return model, session(model)


def _onnx_generate(sess, prompt, length, pick) -> list[int]:
    """Feed `prompt`, then `length` ids chosen by `pick(logits)`, one step at a time."""
    names = [i.name for i in sess.get_inputs()]
    assert names[1:] == ["lstm_1_h", "lstm_1_c", "lstm_2_h", "lstm_2_c"]
    states = [np.zeros((1, SETTINGS.units), np.float32) for _ in names[1:]]
    out = []
    for i in prompt:
        logits, *states = run(sess, np.array([[i]], np.int32), *states)
    for _ in range(length):
        out.append(pick(logits[0, -1]))
        logits, *states = run(sess, np.array([[out[-1]]], np.int32), *states)
    return out


def test_graph_carries_every_state(char_model):
    _, sess = char_model
    outs = [o.name for o in sess.get_outputs()]
    assert outs == ["logits", "lstm_1_h_out", "lstm_1_c_out", "lstm_2_h_out", "lstm_2_c_out"]


@pytest.mark.parametrize("temperature, seed", [(1.0, 0), (0.7, 123)])
def test_sampled_text_equals_lstmkit_generate(char_model, temperature, seed):
    model, sess = char_model
    want = list(generate(model, PROMPT, 50, temperature, seed))
    rng = np.random.default_rng(seed)
    got = _onnx_generate(sess, PROMPT, 50, lambda z: sample(z, temperature, rng))
    assert got == want
    assert len(set(want)) > 3  # the draws really vary


def test_greedy_text_equals_lstmkit_streamer(char_model):
    model, sess = char_model
    stream = model.stream(batch_size=1)
    for i in PROMPT:
        y = np.asarray(stream.step(np.array([i], np.int32)))
    want = []
    for _ in range(50):
        want.append(int(np.argmax(y[0])))
        y = np.asarray(stream.step(np.array([want[-1]], np.int32)))
    assert _onnx_generate(sess, PROMPT, 50, lambda z: int(np.argmax(z))) == want


def test_pieces_equal_the_whole_sequence():
    """streaming=True on a stateless model: a sequence fed in pieces (1 step, then 3, then 2)
    gives the whole sequence's outputs, and the final states carry over."""
    L = lstmkit.layers
    x = lstmkit.Input((None, 3))
    y = L.Dense(2)(L.GRU(5, return_sequences=True)(L.LSTM(4, return_sequences=True)(x)))
    model = lstmkit.Model(x, y)
    randomize(model, seed=2)
    whole = session(model)
    sess = session(model, streaming=True)
    data = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    states = [np.zeros((2, n), np.float32) for n in (4, 4, 5)]
    pieces = []
    for a, b in ((0, 1), (1, 4), (4, 6)):
        y_t, *states = run(sess, data[:, a:b], *states)
        pieces.append(y_t)
    np.testing.assert_allclose(np.concatenate(pieces, 1), run(whole, data)[0], atol=1e-6)
    np.testing.assert_allclose(np.concatenate(pieces, 1), np.asarray(model(data)), atol=1e-5)
