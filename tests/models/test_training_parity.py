"""Training parity with Keras 3: same model, same initial weights, same batches, same numbers."""

import keras
import numpy as np
import pytest

import lstmkit

STEPS, BATCH = 20, 8


def classifier(lib):
    return lib.Sequential(
        [
            lib.Input(shape=(6,), dtype="int32"),
            lib.layers.Embedding(20, 5),
            lib.layers.LSTM(7),
            lib.layers.Dense(1, activation="sigmoid"),
        ]
    )


def regressor(lib):
    return lib.Sequential(
        [
            lib.Input(shape=(5, 3)),
            lib.layers.LSTM(6, return_sequences=True),
            lib.layers.LSTM(4),
            lib.layers.Dense(2),
        ]
    )


def data(kind):
    rng = np.random.default_rng(0)
    n = STEPS * BATCH
    if kind == "classifier":
        x = rng.integers(0, 20, size=(n, 6))
        return x, (x[:, 0] > 9).astype("float32"), "binary_crossentropy"
    x = rng.normal(size=(n, 5, 3)).astype("float32")
    return x, np.stack([x[:, :, 0].sum(1), x[:, -1, 1]], 1).astype("float32"), "mse"


OPTIMIZERS = {
    "sgd": lambda lib: lib.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "rmsprop": lambda lib: lib.optimizers.RMSprop(learning_rate=0.01),
    "adam": lambda lib: lib.optimizers.Adam(learning_rate=0.01),
}


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_twenty_steps_match_keras(kind, opt):
    build = classifier if kind == "classifier" else regressor
    x, y, loss = data(kind)
    km, lm = build(keras), build(lstmkit)
    lm.set_weights(km.get_weights())
    km.compile(OPTIMIZERS[opt](keras), loss)
    lm.compile(OPTIMIZERS[opt](lstmkit), loss)
    kh = km.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    # the epoch's running loss, then the loss after 20 steps
    np.testing.assert_allclose(lh.history["loss"], kh.history["loss"], rtol=1e-4)
    k_loss = km.evaluate(x, y, batch_size=BATCH, verbose=0)
    l_loss = lm.evaluate(x, y, batch_size=BATCH, verbose=0)
    np.testing.assert_allclose(l_loss, k_loss, rtol=1e-4)
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
