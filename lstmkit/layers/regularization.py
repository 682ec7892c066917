"""Training-only noise: SpatialDropout1D (drops whole channels) and GaussianNoise. At inference
both are the identity; masks pass through unchanged, as in Keras."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from lstmkit.layers.base import Layer
from lstmkit.layers.cells import check_rate
from lstmkit.layers.convolutional import check_3d


class SpatialDropout1D(Layer):
    """Dropout of entire channels: one keep/drop draw per (sample, channel), shared by every
    step; kept channels are scaled by 1/(1-rate)."""

    supports_masking = True

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.rate = check_rate(self.name, "rate", rate)
        self.seed = seed

    def check_input(self, shape):
        check_3d(self, shape, "(batch, steps, channels)")

    def pure_call(self, params, inputs, *, training=False, key=None, **kwargs):
        if not training or self.rate == 0.0 or key is None:
            return inputs
        batch, _, channels = inputs.shape
        keep = jax.random.bernoulli(key, 1.0 - self.rate, (batch, 1, channels))
        return jnp.where(keep, inputs / (1.0 - self.rate), 0.0).astype(inputs.dtype)

    def get_config(self):
        # Keras's own config for this layer: no `trainable`, the dtype as a plain name.
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation `stddev` during training."""

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(stddev, bool)
            or not isinstance(stddev, (int, float))
            or not (0 <= stddev <= 1)
        ):
            raise ValueError(
                f"Layer '{self.name}': `stddev` must be a float in [0, 1], got {stddev!r}."
            )
        self.stddev = stddev
        self.seed = seed

    def pure_call(self, params, inputs, *, training=False, key=None, **kwargs):
        if not training or self.stddev == 0 or key is None:
            return inputs
        noise = jax.random.normal(key, inputs.shape, inputs.dtype)  # (batch, ...)
        return inputs + self.stddev * noise

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "stddev": self.stddev, "seed": self.seed}  # fmt: skip
