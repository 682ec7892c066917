"""Reshaping layers beside core's Reshape/Flatten: RepeatVector and Permute, as Keras 3 has them.
Neither passes a mask on (Keras's: they do not support masking)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from lstmkit.layers.base import Layer


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features): the input repeated `n` times (the bridge from
    an encoder's last state to a decoder's time steps)."""

    supports_masking = False  # the mask is dropped, as in Keras

    def __init__(self, n: int, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"Layer '{self.name}' (RepeatVector): `n` should be an integer; got "
                            f"{n!r} ({type(n).__name__}).")  # fmt: skip
        if n <= 0:
            raise ValueError(f"Layer '{self.name}' (RepeatVector): `n` should be a positive "
                             f"integer; got n={n}.")  # fmt: skip
        self.n = n

    def check_input(self, shape: Any) -> None:
        if not isinstance(shape, tuple) or len(shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' (RepeatVector) expects a 2-D input (batch, features); got "
                f"shape {shape}. (For a sequence, take its last step, e.g. LSTM without "
                "return_sequences.)"
            )

    def build(self, input_shape: Any) -> None:
        self.check_input(input_shape)

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> tuple:
        return (input_shape[0], self.n, input_shape[1])

    def pure_call(self, params, inputs, **kwargs):
        return jnp.repeat(inputs[:, None, :], self.n, axis=1)  # (batch, n, features)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype, "n": self.n}


class Permute(Layer):
    """Reorders the axes after the batch: `dims` counts from 1, e.g. (2, 1) swaps time and
    features."""

    supports_masking = False

    def __init__(self, dims: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                f"Layer '{self.name}' (Permute): `dims` must be a permutation of 1..{len(dims)} "
                f"(the axes after the batch, counted from 1); got dims={dims}."
            )

    def check_input(self, shape: Any) -> None:
        if not isinstance(shape, tuple) or len(shape) != len(self.dims) + 1:
            raise ValueError(
                f"Layer '{self.name}' (Permute) with dims={self.dims} expects a "
                f"{len(self.dims) + 1}-D input (batch + {len(self.dims)} axes); got shape {shape}."
            )

    def build(self, input_shape: Any) -> None:
        self.check_input(input_shape)

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> tuple:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def output_dtype(self, input_dtype: str) -> str:
        return input_dtype  # Keras keeps the input's dtype

    def pure_call(self, params, inputs, **kwargs):
        return jnp.transpose(inputs, (0, *self.dims))

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "dims": self.dims}  # fmt: skip
