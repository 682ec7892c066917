"""The keras.io example "Sequence to sequence learning for performing number addition", ported by
changing only its imports: an LSTM encoder, RepeatVector, an LSTM decoder returning sequences and
a softmax Dense over characters. Small (2-digit sums, few samples), trained a few epochs from
Keras's initial weights: the losses and accuracies per epoch are Keras's."""

import keras
import numpy as np

import lstmkit

DIGITS = 2
MAXLEN = DIGITS + 1 + DIGITS  # "12+34"
CHARS = "0123456789+ "
HIDDEN, SAMPLES, BATCH, EPOCHS = 16, 96, 32, 3


def encode(text: str, rows: int) -> np.ndarray:
    """One-hot rows of the example's CharacterTable."""
    x = np.zeros((rows, len(CHARS)), "float32")
    for i, c in enumerate(text):
        x[i, CHARS.index(c)] = 1.0
    return x


def addition_data(seed: int = 0):
    """Questions "a+b" padded to MAXLEN and reversed (the example's REVERSE=True), answers
    padded to DIGITS + 1."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 10**DIGITS, size=(2, SAMPLES))
    questions = [f"{i}+{j}".ljust(MAXLEN)[::-1] for i, j in zip(a, b)]
    answers = [str(i + j).ljust(DIGITS + 1) for i, j in zip(a, b)]
    x = np.stack([encode(q, MAXLEN) for q in questions])
    y = np.stack([encode(s, DIGITS + 1) for s in answers])
    return x, y


def build(lib, init=None):
    """The example's model, as written there (`keras.Sequential`, `layers.*`)."""
    init = init or {}
    layers = lib.layers
    model = lib.Sequential()
    model.add(layers.Input((MAXLEN, len(CHARS))))
    model.add(layers.LSTM(HIDDEN, **init))
    model.add(layers.RepeatVector(DIGITS + 1))
    model.add(layers.LSTM(HIDDEN, return_sequences=True, **init))
    model.add(layers.Dense(len(CHARS), activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_seq2seq_addition_trains_as_keras():
    x, y = addition_data()
    # Keras's orthogonal initializer takes seconds to compile on a CPU: start from zeros and
    # give both the same random weights instead.
    zeros = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
    km, lm = build(keras, zeros), build(lstmkit)
    rng = np.random.default_rng(1)
    km.set_weights([rng.normal(scale=0.3, size=w.shape) for w in km.get_weights()])
    lm.set_weights(km.get_weights())
    kh = km.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    lh = lm.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    np.testing.assert_allclose(lh.history["loss"], kh.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(lh.history["accuracy"], kh.history["accuracy"], atol=1e-6)
    assert kh.history["loss"][-1] < kh.history["loss"][0]  # it learns (the test can fail)
    for a, b in zip(lm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
