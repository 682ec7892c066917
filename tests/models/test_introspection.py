"""Introspection against Keras 3: Model.input/output, layer.input/output, get_layer, configs,
JSON, clone_model, summary, and the keras.io seq2seq recipe of inference models built from a
trained model's layers."""

import json

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L

ENC, DEC, LATENT = 5, 6, 8  # encoder tokens, decoder tokens, latent dim


def seq2seq(lib):
    """keras.io's character-level translation model (lstm_seq2seq), small."""
    encoder_inputs = lib.Input(shape=(None, ENC), name="encoder_inputs")  # (unique whatever ran)
    encoder = lib.layers.LSTM(LATENT, return_state=True)
    _, state_h, state_c = encoder(encoder_inputs)
    decoder_inputs = lib.Input(shape=(None, DEC), name="decoder_inputs")
    decoder_lstm = lib.layers.LSTM(LATENT, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=[state_h, state_c])
    decoder_outputs = lib.layers.Dense(DEC, activation="softmax")(decoder_outputs)
    return lib.Model([encoder_inputs, decoder_inputs], decoder_outputs)


def inference_models(lib, model):
    """The example's recipe, verbatim but for the library: encoder and decoder models made of
    the trained model's layers, `model.input[...]` and `layer.output`."""
    encoder_inputs = model.input[0]
    _, state_h_enc, state_c_enc = model.layers[2].output
    encoder_model = lib.Model(encoder_inputs, [state_h_enc, state_c_enc])
    decoder_inputs = model.input[1]
    decoder_states_inputs = [lib.Input(shape=(LATENT,)), lib.Input(shape=(LATENT,))]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(
        decoder_inputs, initial_state=decoder_states_inputs
    )
    decoder_outputs = model.layers[4](decoder_outputs)
    decoder_model = lib.Model(
        [decoder_inputs] + decoder_states_inputs, [decoder_outputs, state_h_dec, state_c_dec]
    )
    return encoder_model, decoder_model


def decode_sequence(encoder_model, decoder_model, input_seq, steps=4):
    """The example's greedy decoding loop: -> (token ids, their probabilities)."""
    states = encoder_model.predict(input_seq, verbose=0)
    target = np.zeros((1, 1, DEC), "float32")
    target[0, 0, 0] = 1.0
    tokens, probs = [], []
    for _ in range(steps):
        out, h, c = decoder_model.predict([target] + list(states), verbose=0)
        token = int(np.argmax(out[0, -1]))
        tokens.append(token)
        probs.append(out[0, -1])
        target = np.zeros((1, 1, DEC), "float32")
        target[0, 0, token] = 1.0
        states = [h, c]
    return tokens, np.stack(probs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Keras seq2seq model with random (trained-like) weights, saved to a .keras file."""
    keras.utils.set_random_seed(3)
    km = seq2seq(keras)
    rng = np.random.default_rng(0)
    km.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in km.get_weights()])
    path = tmp_path_factory.mktemp("s2s") / "s2s_model.keras"
    km.save(path)
    return km, path


def test_seq2seq_inference_models_decode_as_keras(trained):
    km, path = trained
    lm = lstmkit.models.load_model(path)
    seq = np.random.default_rng(1).normal(size=(1, 3, ENC)).astype("float32")
    k_tokens, k_probs = decode_sequence(*inference_models(keras, km), seq)
    l_tokens, l_probs = decode_sequence(*inference_models(lstmkit, lm), seq)
    assert l_tokens == k_tokens
    np.testing.assert_allclose(l_probs, k_probs, atol=1e-5)


def test_model_and_layer_inputs_outputs_as_keras():
    x = lstmkit.Input((5, 3), name="x")
    lstm = L.LSTM(4, return_state=True, name="enc")
    y, h, c = lstm(x)
    z = L.Dense(2, name="d")(y)
    m = lstmkit.Model(x, [z, h])
    assert m.input is x and m.inputs == [x]
    assert m.output == [z, h] and m.outputs == [z, h]
    assert lstm.input is x and lstm.output == [y, h, c]
    assert m.input_shape == (None, 5, 3) and m.output_shape == [(None, 2), (None, 4)]
    lstm(lstmkit.Input((5, 3)))  # a second call: Keras keeps answering with the first
    assert lstm.input is x
    # Keras 3 removed input_shape/output_shape from layers: the error names the LSTM, not its cell
    with pytest.raises(AttributeError, match="'LSTM' object has no attribute 'input_shape'"):
        lstm.input_shape  # noqa: B018
    with pytest.raises(AttributeError, match="'LSTM' object has no attribute 'output_shape'"):
        lstm.output_shape  # noqa: B018
    fresh = L.LSTM(2, name="never")
    with pytest.raises(AttributeError, match="The layer never has never been called and thus has "
                       "no defined output."):  # fmt: skip
        fresh.output  # noqa: B018
    assert fresh.units == 2  # the cell's arguments still read through the layer


def test_sequential_inputs_and_feature_extractor():
    s = lstmkit.Sequential([lstmkit.Input((4, 3)), L.LSTM(5, return_sequences=True),
                            L.LSTM(2), L.Dense(1)], name="s")  # fmt: skip
    s.add(L.Dense(1))  # a rebuild keeps the Input, so the first call stays in the graph
    with pytest.raises(AttributeError, match="The layer s has never been called and thus has "
                       "no defined input."):  # fmt: skip
        s.input  # noqa: B018
    feat = lstmkit.Model(s.inputs, s.layers[1].output)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    ref = lstmkit.Model(s.inputs, s.layers[0].output).predict(x, verbose=0)
    np.testing.assert_allclose(feat.predict(x, verbose=0), s.layers[1](ref), atol=1e-6)
    with pytest.raises(AttributeError, match="Sequential model 'empty' has no defined inputs yet"):
        lstmkit.Sequential(name="empty").inputs  # noqa: B018


def test_get_layer_as_keras():
    m = lstmkit.Sequential([lstmkit.Input((3,)), L.Dense(2, name="a"), L.Dense(1, name="b")])
    assert m.get_layer(index=1).name == "b" and m.get_layer("a").name == "a"
    assert m.get_layer(index=-1).name == "b"
    with pytest.raises(ValueError, match="Was asked to retrieve layer at index 5 but model only "
                       "has 2 layers."):  # fmt: skip
        m.get_layer(index=5)
    with pytest.raises(ValueError, match="Provide only a layer name or a layer index. "
                       "Received: index=1, name=a."):  # fmt: skip
        m.get_layer("a", 1)
    with pytest.raises(ValueError, match="Provide either a layer name or layer index"):
        m.get_layer()


def _json(config):
    """As written to JSON (Keras's get_config keeps tuples, lstmkit's lists)."""
    return json.loads(json.dumps(config))


def test_get_config_and_json_are_keras_both_ways(trained):
    km, _ = trained
    lm = lstmkit.models.model_from_json(km.to_json())  # Keras -> lstmkit
    assert _json(lm.get_config()) == _json(km.get_config())
    assert json.loads(lm.to_json()) == json.loads(km.to_json())
    back = keras.models.model_from_json(lm.to_json())  # lstmkit -> Keras
    assert _json(back.get_config()) == _json(km.get_config())
    again = lstmkit.Model.from_config(lm.get_config())
    assert _json(again.get_config()) == _json(km.get_config())
    ks = keras.Sequential([keras.Input((4, 3)), keras.layers.LSTM(2, name="l")], name="s")
    ls = lstmkit.Sequential.from_config(ks.get_config())
    assert isinstance(ls, lstmkit.Sequential)
    assert _json(ls.get_config()) == _json(ks.get_config())
    assert json.loads(ls.to_json()) == json.loads(ks.to_json())


def test_clone_model_same_structure_fresh_weights(trained):
    km, path = trained
    lm = lstmkit.models.load_model(path)
    clone = lstmkit.models.clone_model(lm)
    assert clone.get_config() == lm.get_config()
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in lm.get_weights()]
    assert not np.allclose(clone.get_weights()[0], lm.get_weights()[0])  # freshly initialized
    assert clone.layers[2] is not lm.layers[2]
    # clone_function and input_tensors, as Keras: reuse the dense, new inputs given
    ins = [lstmkit.Input((None, ENC)), lstmkit.Input((None, DEC))]
    reuse = lstmkit.models.clone_model(
        lm, input_tensors=ins,
        clone_function=lambda layer: layer if isinstance(layer, L.Dense) else
        type(layer).from_config(layer.get_config()),
    )  # fmt: skip
    assert reuse.layers[-1] is lm.layers[-1] and reuse.inputs == ins
    s = lstmkit.Sequential([lstmkit.Input((3,)), L.Dense(2)], name="s")
    s.compile(optimizer="adam", loss="mse")
    sc = lstmkit.models.clone_model(s)
    assert sc.get_config() == s.get_config() and sc.optimizer is not s.optimizer
    assert sc.optimizer is not None


def _nested(lib):
    x = lib.Input((5, 3), name="inp")
    y, h, _ = lib.layers.LSTM(4, return_state=True, name="enc")(x)
    inner = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, name="d2")], name="inner")
    m = lib.Model(x, [inner(y), h], name="m")
    m.layers[1].trainable = False
    return m


def _branched(lib):
    a, b = lib.Input((5, 3), name="a"), lib.Input((5, 3), name="b")
    _, h, c = lib.layers.LSTM(4, return_state=True, name="enc")(a)
    return lib.Model([a, b], lib.layers.LSTM(4, name="dec")(b, initial_state=[h, c]), name="m2")


def _shared(lib):
    """One LSTM called on two inputs: Keras shows the latest call's shape and both calls."""
    a, b = lib.Input((5, 3), name="a"), lib.Input((7, 3), name="b")
    shared = lib.layers.LSTM(4, return_sequences=True, name="shared")
    return lib.Model([a, b], [shared(a), shared(b)], name="m3")


NESTED = {"expand_nested": True, "show_trainable": True}
NARROW = {"line_length": 80, "positions": [0.4, 0.7, 1.0], "layer_range": ["enc", "inner"]}
NARROW_4 = {"line_length": 80, "positions": [0.3, 0.5, 0.7, 1.0], "layer_range": ["a", "enc"]}


@pytest.mark.parametrize(
    "build, options",
    [(_nested, {}), (_nested, NESTED), (_nested, NARROW), (_branched, {}), (_branched, NESTED),
     (_branched, NARROW_4), (_shared, {})],
)  # fmt: skip
def test_summary_text_is_keras(build, options):
    pytest.importorskip("rich")
    km, lm = build(keras), build(lstmkit)
    k_text, l_text = [], []
    km.summary(print_fn=lambda s, line_break=None: k_text.append(s), **options)
    lm.summary(print_fn=l_text.append, **options)
    assert l_text == k_text


def test_summary_counts_the_optimizer_after_fit_as_keras():
    pytest.importorskip("rich")
    texts = []
    for lib in (keras, lstmkit):
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, name="d")], name="s")
        m.compile(optimizer="adam", loss="mse")
        m.fit(np.zeros((2, 3)), np.zeros((2, 2)), verbose=0)
        out = []
        m.summary(print_fn=lambda s, line_break=None, out=out: out.append(s))
        texts.append(out)
    assert "Optimizer params: 18 " in texts[0][0]  # iterations, learning rate, 2 x 8 slots
    assert texts[1] == texts[0]


def test_layer_output_of_a_loaded_masked_model_builds_a_submodel_as_keras(tmp_path):
    """Keras writes a mask's ops into the file; lstmkit's loaded graph drops them, and
    `layer.output` must belong to that graph."""
    x = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(7, 4, mask_zero=True)(x)
    seq, _, _ = keras.layers.LSTM(3, return_state=True)(embedded)
    km = keras.Model(x, keras.layers.Dense(2)(seq))
    km.save(tmp_path / "masked.keras")
    lm = lstmkit.models.load_model(tmp_path / "masked.keras")
    encoder = lstmkit.Model(lm.input, lm.layers[2].output)
    assert encoder.layers == lm.layers[:3]  # input, embedding, lstm: no mask operations
    ids = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 1]])
    expected = keras.Model(km.input, km.layers[2].output).predict(ids, verbose=0)
    for ours, theirs in zip(encoder.predict(ids, verbose=0), expected):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
