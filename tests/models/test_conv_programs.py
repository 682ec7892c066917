"""Keras programs with convolutions and normalization, ported by changing the import: the same
losses step by step as Keras 3 from the same initial weights, and the same weights afterwards
(BatchNormalization's moving statistics included)."""

import warnings

import keras
import numpy as np

import lstmkit

BATCH, STEPS = 8, 4


def cnn_lstm(lib, dropout=0.25):
    """keras-team's `imdb_cnn_lstm.py`, scaled down: Embedding, Dropout, Conv1D, MaxPooling1D,
    LSTM, Dense, sigmoid. Dropout's random draws differ between the libraries, so the numbers
    are compared with rate 0."""
    L = lib.layers
    model = lib.Sequential([
        lib.Input((20,), dtype="int32"),
        L.Embedding(30, 8),
        L.Dropout(dropout),
        L.Conv1D(6, 5, padding="valid", activation="relu", strides=1),
        L.MaxPooling1D(pool_size=4),
        L.LSTM(5),
        L.Dense(1),
        L.Activation("sigmoid"),
    ])  # fmt: skip
    model.compile(loss="binary_crossentropy", optimizer=lib.optimizers.Adam(0.01),
                  metrics=["accuracy"])  # fmt: skip
    return model


def masked_norm(lib):
    """Padded ids, a mask through BatchNormalization (left out of its statistics) and
    LayerNormalization into an LSTM; a causal Conv1D with BatchNormalization on a branch."""
    L = lib.layers
    ids = lib.Input((7,), dtype="int32")
    e = L.Embedding(12, 4, mask_zero=True)(ids)
    h = L.BatchNormalization(momentum=0.8)(e)
    h = L.LayerNormalization()(h)
    h = L.LSTM(3)(h)
    c = L.Conv1D(3, 3, padding="causal")(e)
    c = L.BatchNormalization(axis=1, momentum=0.5, center=False)(c)
    c = L.GlobalAveragePooling1D()(c)
    model = lib.Model(ids, [L.Dense(1)(h), L.Dense(1)(c)])
    model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.1))
    return model


def run_both(build, x, y):
    """Fit the same `STEPS` steps (one batch per epoch) in Keras and lstmkit."""
    warnings.simplefilter("ignore")
    km, lm = build(keras), build(lstmkit)
    lm.set_weights(km.get_weights())
    kh = km.fit(x, y, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0)
    return km, lm, kh.history, lh.history


def test_cnn_lstm_program_matches_keras_fit():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(BATCH, 20)).astype("int32")
    y = (x[:, :10].mean(axis=1) > 15).astype("float32")
    km, lm, kh, lh = run_both(lambda lib: cnn_lstm(lib, dropout=0.0), x, y)
    np.testing.assert_allclose(lh["loss"], kh["loss"], rtol=1e-4)
    np.testing.assert_allclose(lh["accuracy"], kh["accuracy"])
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    shapes = [(lay.compute_output_shape((None, 20, 8)), kay.compute_output_shape((None, 20, 8)))
              for lay, kay in zip(lm.layers[2:3], km.layers[2:3])]  # fmt: skip
    assert shapes == [((None, 16, 6), (None, 16, 6))]
    assert lm.layers[3].compute_output_shape((None, 16, 6)) == (None, 4, 6)


def test_masked_batch_normalization_fit_matches_keras():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 12, size=(BATCH, 7)).astype("int32")
    x[0, 4:] = x[3, 5:] = x[5, :2] = 0  # padding
    y = [rng.normal(size=(BATCH, 1)).astype("float32") for _ in range(2)]
    km, lm, kh, lh = run_both(masked_norm, x, y)
    np.testing.assert_allclose(lh["loss"], kh["loss"], rtol=1e-4)
    names = [v.path.split("/")[-1] for v in km.weights]
    assert names.count("moving_mean") == names.count("moving_variance") == 2
    for name, a, b in zip(names, lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5, err_msg=name)
    moving = [w for n, w in zip(names, lm.get_weights()) if n == "moving_mean"]
    assert all(np.abs(m).max() > 0 for m in moving)  # they moved
    x2 = rng.integers(0, 12, size=(3, 7)).astype("int32")
    for a, b in zip(lm.predict(x2, verbose=0), km.predict(x2, verbose=0)):  # moving statistics
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
