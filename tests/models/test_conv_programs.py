"""Keras programs with convolutions and normalization, ported by changing the import: the same
losses step by step as Keras 3 from the same initial weights, and the same weights afterwards
(BatchNormalization's moving statistics included)."""

import warnings

import keras
import numpy as np

import lstmkit

BATCH, STEPS = 8, 3


def cnn_lstm(lib, dropout=0.25, zeros=False):
    """keras-team's `imdb_cnn_lstm.py`, scaled down: Embedding, Dropout, Conv1D, MaxPooling1D,
    LSTM, Dense, sigmoid. Dropout's random draws differ between the libraries, so the numbers
    are compared with rate 0; `zeros` starts from zero weights (random initializers compile
    once per shape, seconds on a busy CPU), which `run_both` replaces with random ones."""
    L = lib.layers
    z = {"kernel_initializer": "zeros"} if zeros else {}
    model = lib.Sequential([
        lib.Input((20,), dtype="int32"),
        L.Embedding(30, 8, **({"embeddings_initializer": "zeros"} if zeros else {})),
        L.Dropout(dropout),
        L.Conv1D(6, 5, padding="valid", activation="relu", strides=1, **z),
        L.MaxPooling1D(pool_size=4),
        L.LSTM(5, **z, **({"recurrent_initializer": "zeros"} if zeros else {})),
        L.Dense(1, **z),
        L.Activation("sigmoid"),
    ])  # fmt: skip
    model.compile(loss="binary_crossentropy", optimizer=lib.optimizers.Adam(0.01),
                  metrics=["accuracy"])  # fmt: skip
    return model


def masked_norm(lib):
    """Padded ids, a mask through BatchNormalization (left out of its statistics) and
    LayerNormalization into an LSTM; a causal Conv1D and a frozen BatchNormalization (inference
    mode: moving statistics, never updated) on a branch.
    (Zero initializers: `run_both` gives both the same random weights.)"""
    L = lib.layers
    ids = lib.Input((7,), dtype="int32")
    e = L.Embedding(12, 4, mask_zero=True, embeddings_initializer="zeros")(ids)
    h = L.BatchNormalization(momentum=0.8)(e)
    h = L.LayerNormalization()(h)
    h = L.LSTM(3, kernel_initializer="zeros", recurrent_initializer="zeros")(h)
    c = L.Conv1D(3, 3, padding="causal", kernel_initializer="zeros")(e)
    c = L.BatchNormalization(axis=1, momentum=0.5, center=False, trainable=False)(c)
    c = L.GlobalAveragePooling1D()(c)
    dense = {"kernel_initializer": "zeros"}
    model = lib.Model(ids, [L.Dense(1, **dense)(h), L.Dense(1, **dense)(c)])
    model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.1))
    return model


def run_both(build, x, y):
    """Fit the same `STEPS` steps (one batch per epoch) in Keras and lstmkit."""
    warnings.simplefilter("ignore")
    km, lm = build(keras), build(lstmkit)
    rng = np.random.default_rng(2)  # the same random weights in both; variances stay positive
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in km.weights]
    paths = [v.path for v in km.weights]
    km.set_weights([abs(w) if p.endswith("variance") else w for w, p in zip(weights, paths)])
    lm.set_weights(km.get_weights())
    start = dict(zip(paths, km.get_weights()))
    kh = km.fit(x, y, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0)
    return km, lm, kh.history, lh.history, start


def test_cnn_lstm_program_matches_keras_fit():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, size=(BATCH, 20)).astype("int32")
    y = (x[:, :10].mean(axis=1) > 15).astype("float32")
    km, lm, kh, lh, _ = run_both(lambda lib: cnn_lstm(lib, dropout=0.0, zeros=True), x, y)
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
    km, lm, kh, lh, start = run_both(masked_norm, x, y)
    np.testing.assert_allclose(lh["loss"], kh["loss"], rtol=1e-4)
    names = [v.path.split("/")[-1] for v in km.weights]
    assert names.count("moving_mean") == names.count("moving_variance") == 2
    for name, a, b in zip(names, lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5, err_msg=name)
    trained, frozen = km.layers[2], km.layers[5]  # the BatchNormalizations, in Keras's order
    assert not frozen.trainable and not lm.layers[5].trainable  # (auto names differ by process)
    now = dict(zip([v.path for v in km.weights], lm.get_weights()))
    frozen_paths = [p for p in now if p.startswith(frozen.name + "/")]
    assert len(frozen_paths) == 3  # gamma, moving_mean, moving_variance: all unchanged
    for p in frozen_paths:
        np.testing.assert_array_equal(now[p], start[p])
    moved = [p for p in now if p.startswith(trained.name + "/moving_")]
    assert len(moved) == 2 and all(not np.allclose(now[p], start[p]) for p in moved)
