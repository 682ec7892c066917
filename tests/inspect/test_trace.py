"""The glass box against a float64 NumPy LSTM written from the equations."""

import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm(x, kernel, recurrent, bias):
    """Reference in float64: every gate at every step (gate blocks i, f, c, o)."""
    x, kernel, recurrent, bias = (np.asarray(a, np.float64) for a in (x, kernel, recurrent, bias))
    batch, time, _ = x.shape
    units = recurrent.shape[0]
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    out = {k: [] for k in ("i", "f", "c_tilde", "o", "c", "h")}
    for t in range(time):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f = sigmoid(z[:, :units]), sigmoid(z[:, units : 2 * units])
        g, o = np.tanh(z[:, 2 * units : 3 * units]), sigmoid(z[:, 3 * units :])
        c = f * c + i * g
        h = o * np.tanh(c)
        for k, v in zip(out, (i, f, g, o, c, h)):
            out[k].append(v)
    return {k: np.stack(v, axis=1) for k, v in out.items()}


def test_lstm_trace_matches_float64_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    layer = L.LSTM(5)
    layer(x)
    want = numpy_lstm(x, *layer.get_weights())
    got = lstmkit.inspect.trace(layer, x)
    assert set(got) == set(want)
    for k in want:
        assert got[k].shape == (3, 7, 5)
        np.testing.assert_allclose(got[k], want[k], atol=1e-5)


def test_model_trace_sees_masks_and_matches_outputs():
    model = lstmkit.Sequential([
        lstmkit.Input(shape=(6,), dtype="int32"),
        L.Embedding(10, 3, mask_zero=True),
        L.GRU(4, return_sequences=True, name="gru"),
        L.LSTM(2, name="top"),
    ])  # fmt: skip
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]])
    tr = lstmkit.inspect.trace(model, ids)
    assert set(tr) == {"gru", "top"}
    assert set(tr["gru"]) == {"z", "r", "h_tilde", "h"}
    np.testing.assert_allclose(tr["top"]["h"][:, -1], model.predict(ids, verbose=0), atol=1e-6)
    # masked steps carry the state: the padded row's h stops changing after step 2
    np.testing.assert_array_equal(tr["top"]["c"][0, 3:], np.repeat(tr["top"]["c"][0, 2:3], 3, 0))
    assert lstmkit.inspect.trace(model, ids, layer="gru")["h"].shape == (2, 6, 4)
    with pytest.raises(ValueError, match="no recurrent layer named 'nope'"):
        lstmkit.inspect.trace(model, ids, layer="nope")


def test_plot_trace_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    layer = L.LSTM(3)
    x = np.random.default_rng(1).normal(size=(2, 5, 2)).astype("float32")
    path = tmp_path / "gates.png"
    lstmkit.inspect.plot_trace(lstmkit.inspect.trace(layer, x), sample=1, path=str(path))
    assert path.stat().st_size > 1000
