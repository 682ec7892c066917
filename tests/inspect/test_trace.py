"""The glass box against float64 NumPy references written from the equations, and against the
layers' own outputs (hidden_state is what return_sequences=True returns)."""

import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L

RNG = np.random.default_rng(0)
MASK = np.array([[1, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1, 1]], bool)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_trace(kind, x, weights, mask=None, go_backwards=False, h0=None, c0=None):
    """Every quantity at every step, float64, in processing order; masked steps carry states."""
    x = np.asarray(x, np.float64)
    kernel, recurrent, bias = (np.asarray(w, np.float64) for w in weights)
    batch, time, _ = x.shape
    u = recurrent.shape[0]
    h = np.zeros((batch, u)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((batch, u)) if c0 is None else np.asarray(c0, np.float64)
    mask = np.ones((batch, time), bool) if mask is None else mask
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    out = {}
    for t in order:
        m = mask[:, t, None]
        if kind == "lstm":
            z = x[:, t] @ kernel + h @ recurrent + bias
            i, f = sigmoid(z[:, :u]), sigmoid(z[:, u : 2 * u])
            g, o = np.tanh(z[:, 2 * u : 3 * u]), sigmoid(z[:, 3 * u :])
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
            c = np.where(m, c_new, c)
            step = {"input_gate": i, "forget_gate": f, "candidate": g, "output_gate": o,
                    "cell_state": c}  # fmt: skip
        else:  # GRU, reset_after=True: bias rows are (input, recurrent)
            xz = x[:, t] @ kernel + bias[0]
            hz = h @ recurrent + bias[1]
            zg, r = sigmoid(xz[:, :u] + hz[:, :u]), sigmoid(xz[:, u : 2 * u] + hz[:, u : 2 * u])
            g = np.tanh(xz[:, 2 * u :] + r * hz[:, 2 * u :])
            h_new = zg * h + (1 - zg) * g
            step = {"update_gate": zg, "reset_gate": r, "candidate": g}
        h = np.where(m, h_new, h)
        for k, v in {**step, "hidden_state": h}.items():
            out.setdefault(k, []).append(v)
    return {k: np.stack(v, axis=1) for k, v in out.items()}


def assert_trace(got, want):
    assert list(got) == [k for k in got if k in want] and set(got) == set(want)
    for k in want:
        assert got[k].shape == want[k].shape
        np.testing.assert_allclose(got[k], want[k], atol=1e-5, err_msg=k)


def test_lstm_trace_matches_float64_reference():
    x = RNG.normal(size=(3, 7, 4)).astype("float32")
    layer = L.LSTM(5, name="enc")
    layer(x)
    got = lstmkit.inspect.trace(layer, x)
    assert list(got) == ["enc"]
    assert list(got["enc"]) == ["input_gate", "forget_gate", "candidate", "output_gate",
                                "cell_state", "hidden_state"]  # fmt: skip
    assert_trace(got["enc"], numpy_trace("lstm", x, layer.get_weights()))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_trace_with_mask_go_backwards_and_initial_state_matches_reference(kind):
    x = RNG.normal(size=(3, 7, 4)).astype("float32")
    layer = (L.LSTM if kind == "lstm" else L.GRU)(5, go_backwards=True, return_sequences=True)
    layer(x)
    layer.set_weights(
        [RNG.normal(size=w.shape).astype("float32") * 0.5 for w in layer.get_weights()]
    )
    init = [RNG.normal(size=(3, 5)).astype("float32") for _ in range(2 if kind == "lstm" else 1)]
    got = lstmkit.inspect.trace(layer, x, mask=MASK, initial_state=init)[layer.name]
    assert_trace(got, numpy_trace(kind, x, layer.get_weights(), MASK, True, *init))
    # and the layer's own output, masked and reversed, is hidden_state exactly
    np.testing.assert_array_equal(got["hidden_state"], layer(x, mask=MASK, initial_state=init))


def test_model_trace_sees_masks_and_matches_outputs():
    inputs = lstmkit.Input(shape=(6,), dtype="int32")
    e = L.Embedding(10, 3, mask_zero=True)(inputs)
    seq = L.GRU(4, return_sequences=True, name="gru")(e)
    top = L.LSTM(2, name="top")(seq)
    model = lstmkit.Model(inputs, [seq, top])
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 8, 9]])
    tr = lstmkit.inspect.trace(model, ids)
    assert set(tr) == {"gru", "top"}
    assert list(tr["gru"]) == ["update_gate", "reset_gate", "candidate", "hidden_state"]
    seq_out, top_out = model.predict(ids, verbose=0)
    np.testing.assert_allclose(tr["gru"]["hidden_state"], seq_out, atol=1e-6)
    np.testing.assert_allclose(tr["top"]["hidden_state"][:, -1], top_out, atol=1e-6)
    # masked steps carry the state: the padded row's c stops changing after step 2
    c = tr["top"]["cell_state"]
    np.testing.assert_array_equal(c[0, 3:], np.repeat(c[0, 2:3], 3, 0))
    assert not np.allclose(c[1, 3], c[1, 2])
    assert set(lstmkit.inspect.trace(model, ids, layer="gru")) == {"gru"}
    with pytest.raises(ValueError, match="no recurrent layer named 'nope'"):
        lstmkit.inspect.trace(model, ids, layer="nope")


def test_bidirectional_gives_both_directions_as_its_outputs():
    x = RNG.normal(size=(3, 7, 4)).astype("float32")
    bi = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=None, name="bi")
    fwd, bwd = bi(x, mask=MASK)
    tr = lstmkit.inspect.trace(bi, x, mask=MASK)
    assert set(tr) == {"bi/forward", "bi/backward"}
    np.testing.assert_array_equal(tr["bi/forward"]["hidden_state"], fwd)
    np.testing.assert_array_equal(tr["bi/backward"]["hidden_state"], bwd)  # input time order
    weights = bi.backward_layer.get_weights()
    want = numpy_trace("lstm", x, weights, MASK, go_backwards=True)
    got = {k: v[:, ::-1] for k, v in tr["bi/backward"].items()}  # back to processing order
    got.pop("hidden_state")  # zero at masked steps in Bidirectional (checked above)
    want.pop("hidden_state")
    assert_trace(got, want)


def test_stacked_cells_one_entry_per_cell():
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    layer = L.RNN([L.LSTMCell(4), L.GRUCell(2)], return_sequences=True, name="stack")
    y = layer(x)
    tr = lstmkit.inspect.trace(layer, x)
    names = list(tr)
    assert len(names) == 2 and names[0].startswith("stack/lstm_cell")
    assert names[1].startswith("stack/gru_cell")
    lstm_w = layer.cell.cells[0].get_weights()
    assert_trace(tr[names[0]], numpy_trace("lstm", x, lstm_w))
    np.testing.assert_array_equal(tr[names[1]]["hidden_state"], y)


def test_stateful_trace_starts_from_carried_states_and_leaves_them():
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    model = lstmkit.Sequential([
        lstmkit.Input(batch_shape=(2, 5, 3)), L.LSTM(4, stateful=True, return_sequences=True),
    ])  # fmt: skip
    model.predict(x, verbose=0)  # advances the states
    carried = model.get_states()
    tr = lstmkit.inspect.trace(model, x)
    (name,) = tr
    for a, b in zip(carried[name], model.get_states()[name]):
        np.testing.assert_array_equal(a, b)  # the trace did not advance them
    np.testing.assert_allclose(tr[name]["hidden_state"], model.predict(x, verbose=0), atol=1e-6)
    want = numpy_trace("lstm", x, model.layers[0].get_weights(), h0=carried[name][0],
                       c0=carried[name][1])  # fmt: skip
    assert_trace(tr[name], want)


def test_trace_rejects_models_without_recurrent_layers():
    model = lstmkit.Sequential([lstmkit.Input(shape=(3,)), L.Dense(2)])
    with pytest.raises(ValueError, match="has no recurrent layer"):
        lstmkit.inspect.trace(model, np.zeros((1, 3), "float32"))


def test_plot_trace_writes_png_with_tokens_and_saturation(tmp_path):
    pytest.importorskip("matplotlib")
    layer = L.LSTM(3, name="lstm")
    x = RNG.normal(size=(2, 5, 2)).astype("float32")
    tr = lstmkit.inspect.trace(layer, x)
    path = tmp_path / "gates.png"
    lstmkit.inspect.plot_trace(tr, str(path), tokens="hello", sample=1)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10000
    sat = lstmkit.inspect.saturation(tr)
    f = tr["lstm"]["forget_gate"]
    assert sat["lstm"]["forget_gate"] == ((f > 0.9).mean(), (f < 0.1).mean())
    assert set(sat["lstm"]) == {"input_gate", "forget_gate", "output_gate"}
    with pytest.raises(ValueError, match="3 tokens given for 5 time steps"):
        lstmkit.inspect.plot_trace(tr, str(path), tokens="abc")


@pytest.mark.parametrize(
    "make",
    [lambda: L.SimpleRNN(4, return_sequences=True),
     lambda: L.GRU(4, reset_after=False, return_sequences=True, go_backwards=True),
     lambda: L.RNN(L.LSTMCell(4), return_sequences=True, zero_output_for_mask=True)],
    ids=["simple_rnn", "gru_reset_before_backwards", "rnn_zero_output"],
)  # fmt: skip
def test_hidden_state_is_the_sequence_output(make):
    x = RNG.normal(size=(3, 7, 2)).astype("float32")
    layer = make()
    got = lstmkit.inspect.trace(layer, x, mask=MASK)[layer.name]["hidden_state"]
    np.testing.assert_array_equal(got, layer(x, mask=MASK))
