"""MaxPooling1D and AveragePooling1D: windows over time reduced with `lax.reduce_window`
(aliases MaxPool1D, AvgPool1D). As in Keras, they do not support masking: a mask stops here."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit.layers.base import Layer
from lstmkit.layers.convolutional import (
    check_3d,
    check_data_format,
    check_padding,
    output_length,
    standardize_tuple,
)


class _Pooling1D(Layer):
    """Configuration, shapes and windows shared by the two 1-D poolings."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(self.name, "pool_size", pool_size)
        self.strides = standardize_tuple(
            self.name, "strides", self.pool_size if strides is None else strides
        )
        self.padding = check_padding(self.name, padding, ("valid", "same"))
        self.data_format = check_data_format(self.name, data_format)

    @property
    def steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def check_input(self, shape):
        check_3d(self, shape, "(batch, steps, features)")

    def window(self, x: jax.Array, init: float, op) -> jax.Array:
        """`op` folded over each window of the steps axis (padded with `init` for 'same')."""
        dims, strides = [1, 1, 1], [1, 1, 1]
        dims[self.steps_axis], strides[self.steps_axis] = self.pool_size[0], self.strides[0]
        init = np.array(init, x.dtype)  # concrete: JAX differentiates a known max/add monoid
        return jax.lax.reduce_window(x, init, op, dims, strides, self.padding.upper())

    def compute_output_shape(self, input_shape, **kwargs):
        check_3d(self, input_shape, "(batch, steps, features)")
        steps = output_length(input_shape[self.steps_axis], self.pool_size[0], self.strides[0],
                              self.padding)  # fmt: skip
        if steps is not None and steps <= 0:
            raise ValueError(
                f"Layer '{self.name}': inputs of shape {tuple(input_shape)} are shorter than "
                f"pool_size={self.pool_size[0]} (padding='valid')."
            )
        out = list(input_shape)
        out[self.steps_axis] = steps
        return tuple(out)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                "data_format": self.data_format}  # fmt: skip


class MaxPooling1D(_Pooling1D):
    """The maximum of each window of `pool_size` steps, every `strides` steps."""

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def pure_call(self, params, inputs, **kwargs):
        return self.window(inputs, -jnp.inf, jax.lax.max)  # (batch, steps', features)


class AveragePooling1D(_Pooling1D):
    """The mean of each window; with padding='same', the mean over the window's real steps."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def pure_call(self, params, inputs, **kwargs):
        total = self.window(inputs, 0.0, jax.lax.add)  # (batch, steps', features)
        if self.padding == "valid":
            return total / self.pool_size[0]
        ones = [1, 1, 1]
        ones[self.steps_axis] = inputs.shape[self.steps_axis]
        counts = self.window(jnp.ones(ones, inputs.dtype), 0.0, jax.lax.add)  # steps per window
        return total / counts


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
