"""fit/evaluate/predict's step arguments against Keras 3: steps_per_epoch, validation_steps,
validation_batch_size, validation_freq, evaluate's and predict's steps, steps_per_execution,
run_eagerly, jit_compile; and the optimizer's step count and schedule after fit."""

import warnings

import keras
import numpy as np
import pytest

import lstmkit
from lstmkit.models.training_api import _trainer


def pair():
    def build(lib):
        return lib.Sequential([lib.Input(shape=(3,)), lib.layers.Dense(4, "tanh"),
                               lib.layers.Dense(1)])  # fmt: skip

    km, lm = build(keras), build(lstmkit)
    lm.set_weights(km.get_weights())
    return km, lm


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


class Recorder:
    """Which batch and epoch hooks ran, and with which logs keys."""

    def __init__(self, lib):
        outer = self
        self.batches, self.epochs = [], []

        class Rec(lib.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.batches.append([])

            def on_train_batch_end(self, batch, logs=None):
                assert all(isinstance(v, float) for v in logs.values()), logs
                outer.batches[-1].append(batch)

            def on_epoch_end(self, epoch, logs=None):
                outer.epochs.append((epoch, sorted(logs)))

        self.callback = Rec()


def fit_both(compile_kwargs=None, **fit_kwargs):
    km, lm = pair()
    x, y = data()
    records = []
    for m, lib in ((km, keras), (lm, lstmkit)):
        m.compile(keras.optimizers.SGD(0.1) if lib is keras else lstmkit.optimizers.SGD(0.1),
                  "mse", metrics=["mae"], **(compile_kwargs or {}))  # fmt: skip
        rec = Recorder(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            h = m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                      callbacks=[rec.callback], **fit_kwargs)  # fmt: skip
        records.append((rec, h))
    (krec, kh), (lrec, lh) = records
    assert lrec.batches == krec.batches
    assert lrec.epochs == krec.epochs
    assert lh.epoch == kh.epoch and set(lh.history) == set(kh.history)
    for k in kh.history:
        np.testing.assert_allclose(lh.history[k], kh.history[k], rtol=1e-4, atol=1e-6)
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert lm.optimizer.iterations == int(km.optimizer.iterations)
    return km, lm, krec


@pytest.mark.parametrize("steps", [3, 2, 7], ids=["fewer", "divides", "more_than_data"])
def test_steps_per_epoch_matches_keras(steps):
    # 40 samples / 8 = 5 batches: Keras continues the walk across epochs and cuts an epoch
    # short where the data runs out.
    fit_both(steps_per_epoch=steps)


def test_validation_steps_batch_size_and_freq_match_keras():
    x, y = data(24, seed=1)
    _, _, rec = fit_both(
        validation_data=(x, y), validation_steps=2, validation_batch_size=5, validation_freq=2
    )
    assert [("val_loss" in keys) for _, keys in rec.epochs] == [False, True, False]
    fit_both(validation_data=(x, y), validation_freq=[1, 3])


def test_evaluate_and_predict_steps_match_keras():
    km, lm = pair()
    x, y = data()
    for m in (km, lm):
        m.compile("sgd", "mse")
    np.testing.assert_allclose(
        lm.evaluate(x, y, batch_size=8, steps=2, verbose=0),
        km.evaluate(x, y, batch_size=8, steps=2, verbose=0),
        rtol=1e-5,
    )
    ours, theirs = (
        lm.predict(x, batch_size=8, steps=3, verbose=0),
        km.predict(x, batch_size=8, steps=3, verbose=0),
    )
    assert ours.shape == theirs.shape == (24, 1)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_steps_per_execution_matches_keras_callbacks_and_numbers():
    # 5 batches in executions of 2: Keras reports batches 1, 3 and 5 (the last one is short).
    _, lm, rec = fit_both({"steps_per_execution": 2})
    assert rec.batches[0] == [1, 3, 5]
    assert lm.optimizer.iterations == 15


@pytest.mark.parametrize("kwargs", [{"run_eagerly": True}, {"jit_compile": False}])
def test_run_eagerly_and_no_jit_give_the_same_numbers(kwargs):
    km, lm = pair()
    x, y = data()
    _, eager = pair()
    eager.set_weights(lm.get_weights())
    lm.compile(lstmkit.optimizers.SGD(0.1), "mse", metrics=["mae"])
    eager.compile(lstmkit.optimizers.SGD(0.1), "mse", metrics=["mae"], **kwargs)
    h1 = lm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h2 = eager.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(lm.get_weights(), eager.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    assert eager.run_eagerly == ("run_eagerly" in kwargs) and not eager.jit_compile
    # Not jitted: the step's Python runs on every batch (10), instead of once per batch shape.
    assert _trainer(eager).trace_counts["train"] == 10
    assert _trainer(lm).trace_counts["train"] == 1


def test_run_eagerly_with_jit_compile_warns_as_keras():
    _, lm = pair()
    with pytest.warns(UserWarning, match="jit_compile"):
        lm.compile("sgd", "mse", run_eagerly=True, jit_compile=True)
    assert not lm.jit_compile


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"steps_per_epoch": 0}, "steps_per_epoch"),
        ({"validation_steps": -1}, "validation_steps"),
        ({"validation_freq": "2"}, "validation_freq"),
    ],
)
def test_bad_step_arguments_name_the_argument(kwargs, name):
    _, lm = pair()
    lm.compile("sgd", "mse")
    with pytest.raises(ValueError, match=name):
        lm.fit(*data(), verbose=0, **kwargs)


def test_schedule_reports_the_current_rate_after_fit_as_keras():
    km, lm = pair()
    x, y = data()
    km.compile(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)),
               "mse")  # fmt: skip
    lm.compile(
        lstmkit.optimizers.SGD(lstmkit.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)), "mse"
    )
    km.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    lm.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert lm.optimizer.iterations == int(km.optimizer.iterations) == 10
    assert lm.optimizer.learning_rate == pytest.approx(float(km.optimizer.learning_rate))
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_multi_input_fed_the_same_float_array_twice():
    def build():
        a = lstmkit.Input(shape=(4,), dtype="int32")
        b = lstmkit.Input(shape=(4,), dtype="int32")
        emb, flat, dense = (lstmkit.layers.Embedding(10, 2), lstmkit.layers.Flatten(),
                            lstmkit.layers.Dense(1))  # fmt: skip
        return lstmkit.Model([a, b], [dense(flat(emb(a))), dense(flat(emb(b)))])

    lstmkit.utils.set_random_seed(0)
    model = build()
    ints = np.arange(12).reshape(3, 4) % 10
    floats = ints.astype("float64")
    expected = model.predict([ints, ints[::-1]], verbose=0)
    got = model.predict([floats, floats[::-1]], verbose=0)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e)
    got = model.predict([floats, floats], verbose=0)  # the same array object for both inputs
    np.testing.assert_allclose(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[0])
    model.compile("sgd", "mse")
    model.fit([floats, floats], [np.ones((3, 1))] * 2, verbose=0)
