"""Keras 3 programs with custom layers and models, written once and run in both libraries.

Each `*_program(lib, ops)` is plain Keras 3 code: with `lib=keras, ops=keras.ops` it is Keras,
with `lib=lstmkit, ops=lstmkit.ops` the same program runs on lstmkit ("only the imports change").
"""

from __future__ import annotations

import numpy as np

VOCAB, TIME = 12, 7


def token_batch(rng: np.random.Generator, n: int) -> np.ndarray:
    """Post-padded ids: each row keeps 2..TIME tokens (ids 1..VOCAB-1), zeros after."""
    x = rng.integers(1, VOCAB, size=(n, TIME))
    lengths = rng.integers(2, TIME + 1, size=n)
    x[np.arange(TIME)[None, :] >= lengths[:, None]] = 0
    return x.astype("int32")


def attention_program(lib, ops, package: str = "custom_test"):
    """(a) Additive attention pooling over LSTM(return_sequences=True) outputs, with the
    Embedding(mask_zero=True) mask reaching the custom layer's `call(inputs, mask=None)`."""

    @lib.saving.register_keras_serializable(package=package)
    class AdditiveAttention(lib.layers.Layer):
        def __init__(self, units=8, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            features = input_shape[-1]
            self.W = self.add_weight(shape=(features, self.units), initializer="glorot_uniform",
                                     name="W")  # fmt: skip
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
            self.v = self.add_weight(shape=(self.units, 1), initializer="glorot_uniform",
                                     name="v")  # fmt: skip

        def call(self, inputs, mask=None):
            hidden = ops.tanh(ops.matmul(inputs, self.W) + self.b)  # (batch, time, units)
            score = ops.squeeze(ops.matmul(hidden, self.v), axis=-1)  # (batch, time)
            if mask is not None:
                score = ops.where(mask, score, -1e9)
            weights = ops.softmax(score, axis=-1)  # (batch, time)
            return ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)  # (batch, features)

        def compute_mask(self, inputs, mask=None):
            return None

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units})
            return config

    inputs = lib.Input(shape=(TIME,), dtype="int32")
    x = lib.layers.Embedding(VOCAB, 6, mask_zero=True)(inputs)
    x = lib.layers.LSTM(5, return_sequences=True)(x)
    x = AdditiveAttention(4)(x)
    outputs = lib.layers.Dense(1, activation="sigmoid")(x)
    return lib.Model(inputs, outputs), AdditiveAttention


def running_mean_program(lib, ops, package: str = "custom_test"):
    """(b) A layer whose non-trainable weights change in `call` during training: a moving mean
    of its inputs (subtracted before the projection) and a step counter."""

    @lib.saving.register_keras_serializable(package=package)
    class CenteredDense(lib.layers.Layer):
        def __init__(self, units, momentum=0.9, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.momentum = momentum

        def build(self, input_shape):
            features = input_shape[-1]
            self.moving_mean = self.add_weight(shape=(features,), initializer="zeros",
                                               trainable=False, name="moving_mean")  # fmt: skip
            self.kernel = self.add_weight(shape=(features, self.units), name="kernel")
            self.steps = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                         name="steps")  # fmt: skip

        def call(self, inputs, training=None):
            if training:
                mean = ops.mean(inputs, axis=0)  # (features,)
                m = self.momentum
                self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
                self.steps.assign_add(1.0)
            return ops.matmul(inputs - self.moving_mean, self.kernel)  # (batch, units)

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units, "momentum": self.momentum})
            return config

    inputs = lib.Input(shape=(4,))
    x = CenteredDense(3)(inputs)
    outputs = lib.layers.Dense(1)(x)
    return lib.Model(inputs, outputs), CenteredDense


def encoder_decoder_program(lib, ops, package: str = "custom_test"):
    """(c) A subclassed encoder-decoder Model: LSTM(return_state=True) hands its states to a
    decoder LSTM as `initial_state`; two inputs (source, shifted target), one output."""

    @lib.saving.register_keras_serializable(package=package)
    class EncoderDecoder(lib.Model):
        def __init__(self, units=6, vocab=5, **kwargs):
            super().__init__(**kwargs)
            self.units, self.vocab = units, vocab
            self.encoder = lib.layers.LSTM(units, return_state=True)
            self.decoder = lib.layers.LSTM(units, return_sequences=True)
            self.head = lib.layers.Dense(vocab, activation="softmax")

        def call(self, inputs):
            source, target = inputs
            _, h, c = self.encoder(source)
            y = self.decoder(target, initial_state=[h, c])
            return self.head(y)

        def get_config(self):
            config = super().get_config()
            config.update({"units": self.units, "vocab": self.vocab})
            return config

    return EncoderDecoder(), EncoderDecoder
