"""PyTorch interop: lstmkit computes what torch.nn.LSTM / GRU compute; weights go both ways.

The oracle is torch itself: the same weights in, `module(x)[0]` (and h_n / c_n) out.
"""

import sys
import warnings

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Input, SimpleRNN  # noqa: E402
from lstmkit.models import Model, Sequential  # noqa: E402
from lstmkit.saving import from_torch, to_torch  # noqa: E402

TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
KERAS = {"lstm": LSTM, "gru": GRU}
IN, HID, BATCH, TIME = 3, 5, 2, 6


def torch_out(module, x_batch_major):
    """torch's full output sequence and final states, in (batch, time, ...) layout."""
    x = torch.from_numpy(x_batch_major)
    if not module.batch_first:
        x = x.transpose(0, 1)
    with torch.no_grad():
        out, states = module(x)
    out = out.numpy() if module.batch_first else out.transpose(0, 1).numpy()
    states = states if isinstance(states, tuple) else (states,)
    return out, [s.numpy() for s in states]


def run(model, x):
    """An eager call without compiling: the sweep tests the weight mapping, and one compile per
    configuration would cost more than the rest of this file. The compiled path (model(x) and
    predict) is compared with torch in the tests below the sweep."""
    with jax.disable_jit():
        return np.asarray(model(x))


def rand_x(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, IN)).astype(np.float32)


def randomize(*layers, seed=0):
    """Random weights (biases too) in place, so that every block and bias has to land right."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        layer.set_weights([rng.normal(size=w.shape) for w in layer.get_weights()])


def weights_of(layers):
    return [w.copy() for layer in layers for w in layer.get_weights()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_outputs_match_torch(kind, num_layers, bidirectional, bias):
    torch.manual_seed(num_layers * 4 + bidirectional * 2 + bias)
    x = rand_x()
    module = TORCH[kind](IN, HID, num_layers, bias=bias, batch_first=True,
                         bidirectional=bidirectional)  # fmt: skip
    model = from_torch(module)
    recurrent = [layer for layer in model.layers if not isinstance(layer, Dropout)]
    assert len(recurrent) == num_layers
    assert all(isinstance(layer, Bidirectional) == bidirectional for layer in recurrent)
    ref, _ = torch_out(module, x)
    np.testing.assert_allclose(run(model, x), ref, atol=1e-5)

    # batch_first=False: torch takes (time, batch, features); the same model, refilled.
    torch.manual_seed(99)
    time_major = TORCH[kind](IN, HID, num_layers, bias=bias, batch_first=False,
                             bidirectional=bidirectional)  # fmt: skip
    assert from_torch(time_major, into=model) is model
    ref_tm, _ = torch_out(time_major, x)
    assert not np.allclose(ref_tm, ref, atol=1e-3)  # really other weights
    np.testing.assert_allclose(run(model, x), ref_tm, atol=1e-5)

    # ... and back out: to_torch gives a module computing the same, in either layout.
    for batch_first in (True, False):
        back = to_torch(model, batch_first=batch_first)
        assert isinstance(back, TORCH[kind]) and back.batch_first == batch_first
        assert (back.num_layers, back.bidirectional, back.bias) == (
            num_layers, bidirectional, bias)  # fmt: skip
        np.testing.assert_allclose(torch_out(back, x)[0], ref_tm, atol=1e-5)


def test_predict_matches_torch():
    torch.manual_seed(1)
    module = torch.nn.LSTM(IN, HID, 2, bidirectional=True, dropout=0.25)
    model = from_torch(module)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Bidirectional", "Dropout", "Bidirectional"]  # fmt: skip
    assert model.layers[1].rate == 0.25
    module.eval()  # torch's dropout off, as lstmkit's predict
    x = rand_x(1)
    np.testing.assert_allclose(model.predict(x, verbose=0), torch_out(module, x)[0], atol=1e-5)
    back = to_torch(model)
    assert back.dropout == 0.25 and back.num_layers == 2


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_final_states_match_h_n_c_n(kind):
    torch.manual_seed(2)
    x = rand_x(2)
    module = TORCH[kind](IN, HID, batch_first=True)
    layer = KERAS[kind](HID, return_sequences=True, return_state=True)
    from_torch(module, into=layer)  # fills (and builds) an unbuilt layer
    out, *states = layer(x)
    ref, ref_states = torch_out(module, x)
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-5)
    assert len(states) == len(ref_states)  # [h, c] for LSTM, [h] for GRU
    for s, r in zip(states, ref_states, strict=True):
        np.testing.assert_allclose(np.asarray(s), r[0], atol=1e-5)

    bi_module = TORCH[kind](IN, HID, batch_first=True, bidirectional=True)
    bi = Bidirectional(KERAS[kind](HID, return_sequences=True, return_state=True))
    from_torch(bi_module, into=bi)
    with jax.disable_jit():  # the compiled path was checked just above
        out, *states = bi(x)
    ref, ref_states = torch_out(bi_module, x)
    np.testing.assert_allclose(np.asarray(out), ref, atol=1e-5)
    half = len(states) // 2  # forward states, then backward states
    for i, r in enumerate(ref_states):
        np.testing.assert_allclose(np.asarray(states[i]), r[0], atol=1e-5)
        np.testing.assert_allclose(np.asarray(states[half + i]), r[1], atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_round_trip_preserves_weights_exactly(kind):
    cls = KERAS[kind]
    model = Sequential([
        Input(shape=(None, IN)),
        Bidirectional(cls(HID, return_sequences=True)),
        Bidirectional(cls(HID)),  # the last may return a single vector
    ])  # fmt: skip
    randomize(*model.layers)
    before = weights_of(model.layers)
    module = to_torch(model)
    if kind == "lstm":  # the folded bias goes to b_ih whole, b_hh is zeros
        np.testing.assert_array_equal(module.bias_ih_l0.detach().numpy(), before[2])
        assert not module.bias_hh_l0.detach().numpy().any()
    back = from_torch(module)
    assert_same_weights(weights_of(back.layers), before)
    again = from_torch(module.state_dict(), kind=kind)  # the state_dict way, too
    assert_same_weights(weights_of(again.layers), before)


def test_from_state_dict():
    torch.manual_seed(3)
    x = rand_x(3)
    module = torch.nn.GRU(IN, HID, 2, batch_first=False, bidirectional=True)
    ref, _ = torch_out(module, x)
    state = module.state_dict()
    model = from_torch(state, kind="gru", batch_first=False)
    np.testing.assert_allclose(np.asarray(model(x)), ref, atol=1e-5)
    as_numpy = {k: v.numpy() for k, v in state.items()}  # plain arrays work too
    assert_same_weights(
        weights_of(from_torch(as_numpy, kind="GRU").layers), weights_of(model.layers)
    )
    with pytest.raises(ValueError, match="kind='lstm' or kind='gru'"):
        from_torch(state)
    with pytest.raises(
        ValueError, match=r"'weight_ih_l0' has shape \(15, 3\), expected \(20, 3\).*is `kind` right"
    ):
        from_torch(state, kind="lstm")
    with pytest.raises(ValueError, match="missing \\['weight_hh_l1_reverse'\\]"):
        from_torch({k: v for k, v in state.items() if k != "weight_hh_l1_reverse"}, kind="gru")
    with pytest.raises(ValueError, match="unexpected state_dict keys \\['extra'\\]"):
        from_torch({**state, "extra": state["bias_ih_l0"]}, kind="gru")


def test_fill_existing_layers_and_models():
    torch.manual_seed(4)
    x = rand_x(4)
    module = torch.nn.LSTM(IN, HID, 2, batch_first=True, bias=False)
    ref, (h_n, _) = torch_out(module, x)
    # A model whose recurrent layers are filled in order; other layers are left alone.
    head = Dense(1)
    inp = Input(shape=(TIME, IN))
    seq = LSTM(HID, return_sequences=True, name="first")(inp)
    last = LSTM(HID, name="second")(seq)  # use_bias=True: gets zeros from a bias=False module
    model = Model(inp, [seq, head(last)])
    dense_before = weights_of([head])
    assert from_torch(module, into=model) is model
    assert not model.get_layer("second").get_weights()[2].any()
    assert_same_weights(weights_of([head]), dense_before)
    probe = Model(inp, [seq, last])
    got_seq, got_last = probe(x)
    np.testing.assert_allclose(np.asarray(got_last), h_n[1], atol=1e-5)
    # A list of unbuilt layers, later put in a Sequential.
    layers = [LSTM(HID, return_sequences=True, use_bias=False),
              LSTM(HID, return_sequences=True, use_bias=False)]  # fmt: skip
    from_torch(module, into=layers)
    seq_model = Sequential([Input(shape=(None, IN)), *layers])
    np.testing.assert_allclose(run(seq_model, x), ref, atol=1e-5)


def test_fill_refusals_change_nothing():
    torch.manual_seed(5)
    module = torch.nn.LSTM(IN, HID, 2, batch_first=True)
    good = built(LSTM(HID, return_sequences=True))  # with its own weights
    wrong = LSTM(HID + 1)
    before = weights_of([good])
    with pytest.raises(ValueError, match=rf"'{wrong.name}' has weight shapes \[\(5, 24\)"):
        from_torch(module, into=[good, wrong])
    assert_same_weights(weights_of([good]), before)
    assert not wrong.built  # nothing built either

    unbuilt = LSTM(HID, return_sequences=True)
    built_wrong_input = built(LSTM(HID), 7)  # input dim 7, torch's layer 1 takes 5
    with pytest.raises(ValueError, match=r"\(7, 20\).*torch 'l1' gives \[\(5, 20\)"):
        from_torch(module, into=[unbuilt, built_wrong_input])
    assert not unbuilt.built

    cases = [
        ([LSTM(HID)], "has 2 layer\\(s\\), but 1 recurrent"),
        ([LSTM(HID), GRU(HID)], "is a GRU; torch's is a LSTM"),
        ([LSTM(HID), SimpleRNN(HID)], "is a SimpleRNN \\(SimpleRNNCell\\); torch's is a LSTM"),
        ([LSTM(HID), Bidirectional(LSTM(HID))], "is Bidirectional, but the torch module is not"),
        ([LSTM(HID), LSTM(HID, activation="relu")], "activation='relu'; torch's LSTM uses"),
        ([LSTM(HID), LSTM(HID, recurrent_activation="hard_sigmoid")], "recurrent_activation="),
        ([LSTM(HID), LSTM(HID, use_bias=False)], "use_bias=False, but the torch module has"),
        ([LSTM(HID), LSTM(HID, go_backwards=True)], "go_backwards=True, but torch runs 'l1'"),
    ]
    for into, message in cases:
        with pytest.raises(ValueError, match=message):
            from_torch(module, into=into)
        assert not any(layer.built for layer in into)

    gru = torch.nn.GRU(IN, HID, bidirectional=True)
    with pytest.raises(ValueError, match="reset_after=False"):
        from_torch(gru, into=Bidirectional(GRU(HID, reset_after=False)))
    with pytest.raises(ValueError, match="bidirectional; layer .* must be a Bidirectional"):
        from_torch(gru, into=GRU(HID))
    with pytest.raises(ValueError, match="kind='lstm', but the module is a GRU"):
        from_torch(gru, kind="lstm")
    with pytest.raises(ValueError, match="batch_first=True, but the module has batch_first=Fals"):
        from_torch(gru, batch_first=True)
    with pytest.raises(ValueError, match="proj_size > 0"):
        from_torch(torch.nn.LSTM(IN, HID, proj_size=2))
    with pytest.raises(TypeError, match="expected a torch.nn.LSTM or torch.nn.GRU"):
        from_torch(torch.nn.RNN(IN, HID))
    with pytest.raises(TypeError, match="got int"):
        from_torch(3)
    with pytest.raises(TypeError, match="expected recurrent layers"):
        from_torch(gru, into=[Dense(3)])


def built(layer, input_dim=IN):
    layer.maybe_build((None, None, input_dim))  # weights without a (compiling) call
    return layer


def test_to_torch_refusals():
    seq = dict(return_sequences=True)
    cases = [  # what torch cannot express is refused from the configuration alone
        (LSTM(HID, activation="relu"), "activation='relu'; torch's LSTM uses 'tanh'"),
        (GRU(HID, recurrent_activation="hard_sigmoid"), "recurrent_activation='hard_sigmoid'"),
        (GRU(HID, reset_after=False), "reset_after=False"),
        (Bidirectional(LSTM(HID), merge_mode="sum"), "merge_mode='sum'"),
        ([LSTM(HID), LSTM(HID)], "not the last but has return_sequences=False"),
        ([LSTM(HID, **seq), LSTM(HID + 1)], "differ in units \\(\\['5', '6'\\]\\)"),
        ([LSTM(HID, **seq), GRU(HID)], "differ in kinds"),
        ([LSTM(HID, **seq), Bidirectional(LSTM(HID))], "differ in directions"),
        (SimpleRNN(HID), "runs a SimpleRNNCell"),
        (LSTM(HID, go_backwards=True), "go_backwards=True"),
        (LSTM(HID), "is not built"),
        ([built(LSTM(HID, **seq)), built(LSTM(HID), 7)], "takes inputs of size 7, but the lay"),
        ([], "no recurrent layer"),
        (Sequential([Input(shape=(None, IN)), LSTM(HID), Dense(1)]), "'dense.*' \\(Dense\\)"),
        (Sequential([Input(shape=(None, IN)), LSTM(HID), Dropout(0.1)]), "Dropout after the last"),
        (
            Sequential(
                [
                    Input(shape=(None, IN)),
                    LSTM(HID, **seq),
                    Dropout(0.1),
                    LSTM(HID, **seq),
                    LSTM(HID),
                ]
            ),  # fmt: skip
            "one dropout rate between every two layers",
        ),
        (Sequential([LSTM(HID)]), "is not built"),
    ]
    for obj, message in cases:
        with pytest.raises(ValueError, match=message):
            to_torch(obj)
    inp = Input(shape=(None, IN))
    branches = Model(inp, [LSTM(HID)(inp), LSTM(HID)(inp)])
    with pytest.raises(ValueError, match="not a plain stack"):
        to_torch(branches)
    with pytest.raises(TypeError, match="got str"):
        to_torch("lstm")


def test_to_torch_mixed_bias_and_dropout_warning():
    torch.manual_seed(6)
    x = rand_x(6)
    first = built(LSTM(HID, return_sequences=True, use_bias=False, dropout=0.3))
    second = built(LSTM(HID, return_sequences=True), HID)
    randomize(first, second)
    with pytest.warns(UserWarning, match="dropout=0.3.*not carried over"):
        module = to_torch([first, second])
    assert module.bias and not module.bias_ih_l0.detach().numpy().any()
    with jax.disable_jit():
        expected = np.asarray(second(first(x)))
    np.testing.assert_allclose(torch_out(module, x)[0], expected, atol=1e-5)


def test_import_error_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    layer = built(LSTM(HID))
    with pytest.raises(ImportError, match=r"pip install lstmkit\[torch\]"):
        to_torch(layer)
    # A state_dict of plain arrays needs no torch at all.
    state = {
        "weight_ih_l0": np.ones((4 * HID, IN), np.float32),
        "weight_hh_l0": np.ones((4 * HID, HID), np.float32),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_torch(state, into=layer, kind="lstm")
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones((IN, 4 * HID)))
    assert not layer.get_weights()[2].any()
