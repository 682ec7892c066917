"""model.stream(): one step at a time equals the full-sequence model (model.predict), stepwise."""

import jax
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L

RNG = np.random.default_rng(0)


def stream_all(streamer, x):
    """Every step's output, stacked on a time axis: (batch, time, ...)."""
    return np.stack([np.asarray(streamer.step(x[:, t])) for t in range(x.shape[1])], axis=1)


def char_model(**rnn_kwargs):
    return lstmkit.Sequential([
        lstmkit.Input(shape=(None,), dtype="int32"),
        L.Embedding(11, 6, mask_zero=True),
        L.LSTM(8, return_sequences=True, **rnn_kwargs),
        L.LSTM(7, return_sequences=True),
        L.Dense(11),
    ])  # fmt: skip


def test_stateless_char_model_streams_like_predict_with_masked_steps():
    model = char_model()
    ids = RNG.integers(1, 11, (1, 9))
    ids[0, 4] = 0  # a masked step: states carried, output repeated, as in the full sequence
    s = model.stream()
    np.testing.assert_allclose(stream_all(s, ids), model.predict(ids, verbose=0), atol=1e-5)
    s.reset()  # the same sequence again, from zero states
    np.testing.assert_allclose(stream_all(s, ids), model.predict(ids, verbose=0), atol=1e-5)


@pytest.mark.parametrize("kind", ["gru_simple", "stacked_cells"])
def test_features_gru_simple_rnn_and_stacked_cells_stream_like_predict(kind):
    inputs = lstmkit.Input(shape=(6, 3))
    if kind == "gru_simple":
        h = L.GRU(5, return_sequences=True)(inputs)
        h = L.SimpleRNN(4, return_sequences=True)(h)
    else:
        h = L.RNN([L.LSTMCell(5), L.GRUCell(4)], return_sequences=True)(inputs)
    model = lstmkit.Model(inputs, L.Dense(2)(h))
    x = RNG.normal(size=(3, 6, 3)).astype("float32")
    got = stream_all(model.stream(batch_size=3), x)
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_stateful_model_streams_and_its_own_states_are_untouched():
    model = lstmkit.Sequential([
        lstmkit.Input(batch_shape=(2, 5, 3)), L.LSTM(4, stateful=True, return_sequences=True),
    ])  # fmt: skip
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    model.predict(x, verbose=0)
    before = model.get_states()
    s = model.stream(batch_size=2)
    got = stream_all(s, x)
    for a, b in zip(before[model.layers[0].name], model.get_states()[model.layers[0].name]):
        np.testing.assert_array_equal(a, b)
    model.reset_states()
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


def test_states_and_set_states_resume_a_stream():
    model = char_model()
    ids = RNG.integers(1, 11, (1, 8))
    s = model.stream()
    stream_all(s, ids[:, :4])
    snapshot = s.states
    assert all(isinstance(v, jax.Array) for vs in snapshot.values() for v in vs)
    assert [v.shape for v in snapshot[model.layers[1].name]] == [(1, 8), (1, 8)]
    tail = stream_all(s, ids[:, 4:])
    s.reset()
    s.set_states(snapshot)
    np.testing.assert_array_equal(stream_all(s, ids[:, 4:]), tail)
    np.testing.assert_allclose(tail, model.predict(ids, verbose=0)[:, 4:], atol=1e-5)
    with pytest.raises(ValueError, match="expects states shaped"):
        s.set_states({model.layers[1].name: [np.zeros((1, 3))]})
    with pytest.raises(ValueError, match="no recurrent layer named 'nope'"):
        s.set_states({"nope": []})


def test_sample_and_generate():
    model = char_model()
    s = model.stream()
    a = s.generate([1, 2, 3], 12, temperature=0.8, seed=5)
    assert a.shape == (1, 12) and a.dtype.kind == "i" and (0 <= a).all() and (a < 11).all()
    np.testing.assert_array_equal(s.generate([1, 2, 3], 12, temperature=0.8, seed=5), a)
    seen = []
    b = s.generate(np.array([[1, 2, 3]]), 12, temperature=0.8, seed=6, on_token=seen.append)
    np.testing.assert_array_equal(np.stack(seen, 1), b)
    assert not np.array_equal(a, b)
    logits = RNG.normal(size=(4, 11)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    key = jax.random.key(3)
    np.testing.assert_array_equal(s.sample(logits, key=key), s.sample(probs, key=key))
    # a very low temperature is the argmax
    np.testing.assert_array_equal(s.sample(logits, temperature=1e-4, seed=1), logits.argmax(-1))
    with pytest.raises(ValueError, match="temperature` must be > 0"):
        s.sample(logits, temperature=0)
    with pytest.raises(ValueError, match="length` must be a positive integer"):
        s.generate([1], 0)


def test_models_that_cannot_stream_say_why():
    x = lstmkit.Input(shape=(4, 2))
    bi = lstmkit.Model(x, L.Bidirectional(L.LSTM(3, return_sequences=True))(x))
    with pytest.raises(ValueError, match="Bidirectional"):
        bi.stream()
    last = lstmkit.Model(x, L.LSTM(3)(x))
    with pytest.raises(ValueError, match="return_sequences=False"):
        last.stream()
    s = char_model().stream(batch_size=2)
    with pytest.raises(ValueError, match="batch of 2"):
        s.step(np.array([1]))
