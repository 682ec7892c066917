"""fit's options against Keras 3 (sample/class weights, validation, initial_epoch, callbacks,
progress output) and the legacy Keras 1/2 spellings."""

import re

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit import layers as L


def pair(units=3):
    def build(lib):
        return lib.Sequential(
            [lib.Input(shape=(4, 2)), lib.layers.LSTM(units), lib.layers.Dense(1, "sigmoid")]
        )

    km, lm = build(keras), build(lstmkit)
    lm.set_weights(km.get_weights())
    return km, lm


def data(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4, 2)).astype("float32")
    return x, (x[:, 0, 0] > 0).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_weight": np.linspace(0.1, 2.0, 32).astype("float32")},
        {"class_weight": {0: 0.3, 1: 2.0}},
        {"validation_split": 0.25},
        {"initial_epoch": 1},
    ],
    ids=["sample_weight", "class_weight", "validation_split", "initial_epoch"],
)
def test_fit_options_match_keras(kwargs):
    km, lm = pair()
    x, y = data()
    for m in (km, lm):
        m.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    kh = km.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, **kwargs)
    lh = lm.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, **kwargs)
    assert lh.epoch == kh.epoch
    assert set(lh.history) == set(kh.history)
    for k in kh.history:
        np.testing.assert_allclose(lh.history[k], kh.history[k], rtol=1e-4, atol=1e-6)


def test_validation_data_and_evaluate_with_sample_weight_match_keras():
    km, lm = pair()
    x, y = data()
    sw = np.linspace(0.5, 1.5, 32).astype("float32")
    for m in (km, lm):
        m.compile("adam", "binary_crossentropy", metrics=["accuracy"], weighted_metrics=["mse"])
    kh = km.fit(x, y, epochs=2, verbose=0, shuffle=False, validation_data=(x[:8], y[:8]))
    lh = lm.fit(x, y, epochs=2, verbose=0, shuffle=False, validation_data=(x[:8], y[:8]))
    for k in kh.history:
        np.testing.assert_allclose(lh.history[k], kh.history[k], rtol=1e-4, atol=1e-6)
    kd = km.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    ld = lm.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert set(kd) == set(ld)
    for k in kd:
        np.testing.assert_allclose(ld[k], kd[k], rtol=1e-4)


def test_early_stopping_and_reduce_lr_change_training():
    _, lm = pair()
    x, y = data()
    lm.compile(lstmkit.optimizers.SGD(learning_rate=0.1), "binary_crossentropy")
    reduce = lstmkit.callbacks.ReduceLROnPlateau(
        monitor="loss", patience=0, factor=0.5, min_delta=10.0
    )
    stop = lstmkit.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    h = lm.fit(x, y, epochs=5, verbose=0, callbacks=[reduce, stop])
    assert len(h.epoch) == 2  # no epoch improves by min_delta=10: stops after patience
    np.testing.assert_allclose(lm.optimizer.learning_rate, 0.05)
    # the new rate reaches the jitted step without a recompile
    from lstmkit.models.training_api import _trainer
    from lstmkit.optimizers.base import get_lr

    lm.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_allclose(float(get_lr(lm.optimizer.opt_state)), 0.05)
    assert _trainer(lm).trace_counts["train"] == 1


def test_verbose_1_prints_keras_progress_bar(capsys):
    _, lm = pair()
    x, y = data()
    lm.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    lm.fit(x, y, batch_size=8, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert re.search(r"4/4 \S+ \d+s \d+[mu]?s/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", out)


def test_verbose_2_prints_one_line_per_epoch(capsys):
    _, lm = pair()
    x, y = data()
    lm.compile("adam", "binary_crossentropy")
    lm.fit(x, y, batch_size=8, epochs=2, verbose=2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "loss:" in ln]
    assert len(lines) == 2 and all(ln.startswith("4/4 - ") for ln in lines)


def test_legacy_spellings_warn_and_work():
    with pytest.warns(DeprecationWarning, match="`units`"):
        a = L.LSTM(output_dim=3)
    assert a.units == 3
    with pytest.warns(DeprecationWarning, match="recurrent_activation"):
        b = L.LSTM(2, inner_activation="hard_sigmoid")
    z = np.linspace(-4, 4, 9).astype("float32")
    np.testing.assert_allclose(b.recurrent_activation(z), np.clip(0.2 * z + 0.5, 0, 1), atol=1e-6)
    with pytest.warns(DeprecationWarning, match="kernel_initializer"):
        L.LSTM(2, init="glorot_normal")
    with pytest.warns(DeprecationWarning, match="Input"):
        seq = lstmkit.Sequential([L.LSTM(2, batch_input_shape=(3, 4, 2))])
    assert seq.inputs[0].shape == (3, 4, 2)
    with pytest.warns(DeprecationWarning, match="Input"):
        emb = lstmkit.Sequential([L.Embedding(10, 4, input_length=7)])
    assert emb.inputs[0].shape == (None, 7)
    clf = lstmkit.Sequential([lstmkit.Input(shape=(4, 2)), L.LSTM(2), L.Dense(3, "softmax")])
    x = np.random.default_rng(0).normal(size=(5, 4, 2))
    with pytest.warns(DeprecationWarning, match="argmax"):
        classes = clf.predict_classes(x)
    np.testing.assert_array_equal(classes, np.argmax(clf.predict(x, verbose=0), axis=-1))


def test_weight_regularizers_and_constraints_match_keras():
    def build(lib):
        return lib.Sequential(
            [
                lib.Input(shape=(4, 2)),
                lib.layers.LSTM(
                    3,
                    kernel_regularizer=lib.regularizers.L2(0.01),
                    recurrent_regularizer=lib.regularizers.L1(0.02),
                    bias_regularizer=lib.regularizers.L1L2(l1=0.01, l2=0.01),
                    kernel_constraint=lib.constraints.MaxNorm(0.5),
                    recurrent_constraint=lib.constraints.UnitNorm(),
                ),
                lib.layers.Dense(1, kernel_regularizer="l2", bias_constraint="non_neg"),
            ]
        )

    km, lm = build(keras), build(lstmkit)
    lm.set_weights(km.get_weights())
    x, y = data()
    for m in (km, lm):
        m.compile(m_opt(m), "mse")
    # the penalties are part of the loss
    np.testing.assert_allclose(lm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0), 1e-5)
    km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    lm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    kernel, recurrent = lm.get_weights()[:2]
    assert np.linalg.norm(kernel, axis=0).max() <= 0.5 + 1e-5  # max_norm held
    np.testing.assert_allclose(np.linalg.norm(recurrent, axis=0), 1.0, atol=1e-5)  # unit_norm
    assert lm.get_weights()[-1].min() >= 0.0  # non_neg


def m_opt(model):
    lib = keras if isinstance(model, keras.Model) else lstmkit
    return lib.optimizers.SGD(learning_rate=0.1)


def test_set_states_restores_a_stateful_model():
    inp = lstmkit.Input(batch_shape=(2, 3, 1))
    model = lstmkit.Model(inp, L.LSTM(2, stateful=True)(inp))
    x = np.random.default_rng(0).normal(size=(2, 3, 1)).astype("float32")
    model.predict(x, verbose=0)
    saved = model.get_states()
    after = model.predict(x, verbose=0)
    model.set_states(saved)
    np.testing.assert_allclose(model.predict(x, verbose=0), after, atol=1e-7)
    name = model.layers[1].name
    with pytest.raises(ValueError, match="reset_state expected states shaped"):
        model.set_states({name: [np.zeros((3, 2)), np.zeros((3, 2))]})
