"""`clone_model` of models holding nested Sequential and functional models (and shared layers),
against Keras 3: the same config and summary, new layers with fresh weights, and after
`set_weights(original.get_weights())` the same predictions."""

import json

import keras
import numpy as np
import pytest

import lstmkit

X = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)


def encoder(lib, name):
    i = lib.Input((3, 4), name=f"{name}_in")
    h = lib.layers.LSTM(5, name=f"{name}_lstm")(i)
    return lib.Model(i, lib.layers.Dense(2, name=f"{name}_dense")(h), name=name)


def functional_outer(lib):
    """A functional model: a nested functional model called twice (shared), a nested Sequential
    and a shared Dense."""
    inner = encoder(lib, "inner")
    head = lib.Sequential(
        [lib.Input((2,), name="head_in"), lib.layers.Dense(2, name="seq_dense")], name="head"
    )
    a, b = lib.Input((3, 4), name="a"), lib.Input((3, 4), name="b")
    shared = lib.layers.Dense(2, name="shared")
    ea, eb = inner(a), inner(b)
    out = lib.layers.Add(name="add")([shared(ea), shared(head(eb))])
    return lib.Model([a, b], out, name="outer")


def sequential_outer(lib):
    """A Sequential holding a functional model that holds a Sequential."""
    i = lib.Input((3, 4), name="mid_in")
    h = lib.layers.LSTM(3, name="mid_lstm")(i)
    tail = lib.Sequential(
        [lib.Input((3,), name="tail_in"), lib.layers.Dense(2, name="tail_dense")], name="tail"
    )
    mid = lib.Model(i, tail(h), name="mid")
    return lib.Sequential(
        [lib.Input((3, 4), name="top_in"), mid, lib.layers.Dense(1, name="out")], name="top"
    )


def all_layers(model):
    out = []
    for layer in model.layers:
        if not isinstance(layer, lstmkit.layers.InputLayer):
            out += [layer] + (all_layers(layer) if isinstance(layer, lstmkit.Model) else [])
    return out


def config(model):
    return json.loads(json.dumps(model.get_config()))


def summary(model, lib):
    lines = []
    model.summary(print_fn=lambda s, line_break=None: lines.append(s), expand_nested=True)
    return lines


def inputs_of(model):
    return [X, X[::-1].copy()] if len(model.inputs) == 2 else X


@pytest.mark.parametrize("build", [functional_outer, sequential_outer])
@pytest.mark.parametrize("how", ["default", "clone_function", "recursive"])
def test_clone_nested_models_as_keras(build, how):
    kwargs = {
        "default": {},
        "clone_function": {
            "clone_function": lambda layer: layer.__class__.from_config(layer.get_config())
        },  # fmt: skip
        "recursive": {"recursive": True},
    }[how]
    km, lm = build(keras), build(lstmkit)
    lm.set_weights(km.get_weights())
    kc = keras.models.clone_model(km, **kwargs)
    lc = lstmkit.models.clone_model(lm, **kwargs)
    assert config(lm) == config(km)
    # Keras's clone calls a shared layer in its graph-run order: its node indices may differ
    # from the original's; lstmkit's clone records the same calls in the same order
    assert config(lc) == config(kc)
    assert [type(x).__name__ for x in lc.layers] == [
        type(x).__name__.replace("Functional", "Model") for x in kc.layers
    ]
    # new layers at every depth (inputs aside), freshly initialized
    assert not {id(x) for x in all_layers(lc)} & {id(x) for x in all_layers(lm)}
    assert not np.allclose(lc.get_weights()[0], lm.get_weights()[0])
    lc.set_weights(lm.get_weights())
    np.testing.assert_allclose(
        lc.predict(inputs_of(lc), verbose=0), km.predict(inputs_of(km), verbose=0), atol=1e-6
    )
    if how == "default":
        pytest.importorskip("rich")
        assert summary(lc, lstmkit) == summary(kc, keras)


def test_shared_nested_model_stays_shared_in_the_clone():
    model = functional_outer(lstmkit)
    lc = lstmkit.models.clone_model(model)
    assert [x.name for x in lc.layers].count("inner") == 1  # one clone, called twice
    assert [w.shape for w in lc.get_weights()] == [w.shape for w in model.get_weights()]


def test_config_round_trip_of_nested_models_reads_keras_configs():
    """from_config of Keras's own config (a Sequential in a functional in a Sequential)."""
    km = sequential_outer(keras)
    lm = lstmkit.Sequential.from_config(km.get_config())
    assert config(lm) == config(km)
    lm.set_weights(km.get_weights())
    np.testing.assert_allclose(lm.predict(X, verbose=0), km.predict(X, verbose=0), atol=1e-6)


def test_nested_models_in_keras_files_with_optimizer_state(tmp_path):
    """A trained Keras model with nested models loads with its optimizer state (Keras's
    variable order and names), trains on as in Keras, and saves back for Keras."""
    km = functional_outer(keras)
    km.compile(keras.optimizers.Adam(0.01, name="adam"), "mse")
    xs, y = inputs_of(km), np.ones((2, 2), np.float32)
    km.fit(xs, y, verbose=0)
    km.save(tmp_path / "k.keras")
    lm = lstmkit.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(lm.predict(xs, verbose=0), km.predict(xs, verbose=0), atol=1e-6)
    k_vars, l_vars = km.optimizer.variables, lm.optimizer.variables
    assert [v.path for v in l_vars] == [v.path for v in k_vars]
    for kv, lv in zip(k_vars, l_vars):
        np.testing.assert_array_equal(lv.numpy(), kv.numpy())
    km.fit(xs, y, verbose=0)
    lm.fit(xs, y, verbose=0)
    for kw, lw in zip(km.get_weights(), lm.get_weights()):
        np.testing.assert_allclose(lw, kw, atol=1e-6)
    lm.save(tmp_path / "l.keras")
    back = keras.models.load_model(tmp_path / "l.keras")
    np.testing.assert_allclose(back.predict(xs, verbose=0), lm.predict(xs, verbose=0), atol=1e-6)
    assert int(back.optimizer.iterations) == 2
