"""compile/fit/evaluate/predict: compilation counts, stateful training, frozen layers, errors."""

import numpy as np
import pytest

import lstmkit
from lstmkit import callbacks
from lstmkit import layers as L
from lstmkit.models import Model, Sequential
from lstmkit.models.training_api import _trainer


def small_classifier(vocab=30, time=8):
    lstmkit.utils.set_random_seed(0)
    model = Sequential([lstmkit.Input(shape=(time,), dtype="int32"), L.Embedding(vocab, 8),
                        L.LSTM(8), L.Dense(1, activation="sigmoid")])  # fmt: skip
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model


def task(n=200, vocab=30, time=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, time))
    y = (x == 3).any(axis=1).astype("float32")  # needs memory: did token 3 appear anywhere?
    return x, y


def test_epoch_compiles_at_most_twice_and_predict_buckets():
    model = small_classifier()
    x, y = task(n=100)  # 100 = 3 full batches of 32 + one of 4
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    counts = _trainer(model).trace_counts
    assert counts["train"] == 2, counts
    for n in (1, 3, 7, 20, 33, 50, 64, 77, 100):
        assert model.predict(x[:n], verbose=0).shape == (n, 1)
    # power-of-two buckets up to the batch size: 1, 2, 4, 8, 16, 32 at most
    assert counts["predict"] <= 6, counts
    before = counts["predict"]
    for n in (5, 9, 17, 31, 70):
        model.predict(x[:n], verbose=0)
    assert counts["predict"] == before  # every size now reuses a compiled program


def test_padded_predict_equals_unpadded_rows():
    model = small_classifier()
    x, _ = task(n=40)
    full = model.predict(x, batch_size=64, verbose=0)
    for n in (1, 5, 13):
        np.testing.assert_allclose(model.predict(x[:n], verbose=0), full[:n], atol=1e-6)


def test_learns_sequence_task_to_95_percent():
    model = small_classifier()
    model.compile(lstmkit.optimizers.Adam(0.01), "binary_crossentropy", metrics=["accuracy"])
    x, y = task(n=512)
    model.fit(x, y, batch_size=32, epochs=10, verbose=0)
    xt, yt = task(n=256, seed=1)
    loss, acc = model.evaluate(xt, yt, verbose=0)
    assert acc >= 0.95, (loss, acc)


def test_frozen_layer_is_not_updated():
    model = small_classifier()
    model.layers[0].trainable = False
    model.compile("sgd", "binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    x, y = task(n=64)
    model.fit(x, y, epochs=1, verbose=0)
    after = model.get_weights()
    np.testing.assert_array_equal(after[0], before[0])  # embeddings frozen
    assert any(not np.array_equal(a, b) for a, b in zip(after[1:], before[1:]))


def test_stateful_fit_carries_states_and_reset():
    batch = 4
    lstmkit.utils.set_random_seed(1)
    inp = lstmkit.Input(batch_shape=(batch, 5, 2))
    model = Model(inp, L.Dense(1)(L.LSTM(3, stateful=True)(inp)))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5, 2)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    model.fit(x, y, batch_size=batch, shuffle=False, epochs=1, verbose=0)
    states = model.get_states()["lstm" if "lstm" in model.get_states() else model.layers[1].name]
    assert all(np.abs(s).sum() > 0 for s in states)
    p1 = model.predict(x[:batch], verbose=0)
    p2 = model.predict(x[:batch], verbose=0)
    assert np.abs(p1 - p2).max() > 1e-6  # states carried between calls
    model.reset_states()
    p3 = model.predict(x[:batch], verbose=0)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x[:batch], verbose=0), p3, atol=1e-7)
    with pytest.raises(ValueError, match="stateful with batch size 4"):
        model.fit(x, y, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match="multiple of it"):
        model.fit(x[:6], y[:6], verbose=0)


def test_reset_states_in_a_callback_during_fit_takes_effect():
    """A callback's `model.reset_states()` (or a layer's `reset_states()`) inside `fit` is what the
    next step starts from, and a layer's `states` read there are the loop's latest. Oracle: Keras
    3's fit on the JAX backend, which starts every batch from zero states, with the same weights
    and batches."""
    import keras

    batch, rng = 4, np.random.default_rng(0)
    x, y = (
        rng.normal(size=(12, 5, 3)).astype("float32"),
        rng.normal(size=(12, 5, 2)).astype("float32"),
    )

    lstmkit.utils.set_random_seed(0)
    model = Sequential([lstmkit.Input(batch_shape=(batch, 5, 3)),
                        L.LSTM(6, stateful=True, return_sequences=True), L.Dense(2)])  # fmt: skip
    model.compile("sgd", "mse")
    seen = []

    class Reset(callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(np.abs(np.asarray(self.model.layers[0].states[0])).sum()))
            self.model.reset_states()

        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(np.abs(np.asarray(self.model.layers[0].states[0])).sum()))

    twin = keras.Sequential([keras.Input(batch_shape=(batch, 5, 3)),
                             keras.layers.LSTM(6, stateful=True, return_sequences=True),
                             keras.layers.Dense(2)])  # fmt: skip
    twin.compile(keras.optimizers.SGD(), "mse")
    twin.set_weights(model.get_weights())
    ours = model.fit(x, y, batch_size=batch, shuffle=False, verbose=0, callbacks=[Reset()])
    theirs = twin.fit(x, y, batch_size=batch, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=1e-5)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Each batch ends with non-zero states, which the next batch's begin sees before resetting.
    assert seen[0] == 0 and all(v > 0 for v in seen[1:])
    assert seen[1:-1:2] == seen[2::2]


def test_terminate_on_nan_stops_and_keeps_last_finite_weights(capsys):
    model = small_classifier()
    model.compile(lstmkit.optimizers.SGD(learning_rate=1e30), "mse")
    x, y = task(n=64)
    y = y * 1e20
    stopper = callbacks.TerminateOnNaN()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[stopper])
    assert stopper.stopped_at is not None
    assert "Batch" in capsys.readouterr().out
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_history_validation_and_nb_epoch_warning():
    model = small_classifier()
    x, y = task(n=96)
    with pytest.warns(DeprecationWarning, match="use `epochs`"):
        h = model.fit(x, y, nb_epoch=2, validation_split=0.25, verbose=0)
    assert h.epoch == [0, 1]
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_errors_are_clear():
    model = small_classifier()
    x, y = task(n=10)
    with pytest.raises(ValueError, match="different lengths"):
        model.fit(x, y[:7], verbose=0)
    with pytest.raises(ValueError, match=r"expects shape \(None, 8\)"):
        model.fit(x[:, :5], y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.fit(x[:0], y[:0], verbose=0)
    fresh = Sequential([lstmkit.Input(shape=(3, 1)), L.LSTM(2)])
    with pytest.raises(RuntimeError, match="compile"):
        fresh.fit(np.zeros((2, 3, 1)), np.zeros((2, 2)), verbose=0)
    with pytest.raises(ValueError, match="nosuchopt"):
        fresh.compile("nosuchopt", "mse")
    with pytest.raises(ValueError, match="nosuchloss"):
        fresh.compile("adam", "nosuchloss")
    with pytest.raises(ValueError, match="nosuchmetric"):
        fresh.compile("adam", "mse", metrics=["nosuchmetric"])
        fresh.fit(np.zeros((2, 3, 1)), np.zeros((2, 2)), verbose=0)
    clf = Sequential([lstmkit.Input(shape=(3, 1)), L.LSTM(2), L.Dense(4)])
    clf.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\[0, 4\)|0, 4"):
        clf.fit(np.zeros((2, 3, 1)), np.array([1, 7]), verbose=0)


def test_interrupted_fit_keeps_weights_of_last_completed_step():
    class Boom(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    model, reference = small_classifier(), small_classifier()
    reference.set_weights(model.get_weights())
    reference.compile("sgd", "binary_crossentropy")
    model.compile("sgd", "binary_crossentropy")
    x, y = task(n=64)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, shuffle=False, verbose=0, callbacks=[Boom()])
    for i in range(3):  # batches 0, 1, 2 completed before the interrupt
        reference.train_on_batch(x[8 * i : 8 * (i + 1)], y[8 * i : 8 * (i + 1)])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
