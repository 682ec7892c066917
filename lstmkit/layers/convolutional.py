"""Conv1D: a 1-D convolution over time (`lax.conv_general_dilated`), and the argument checks that
the pooling layers share with it (tuples of one int, padding, data_format, output length)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit import constraints, initializers, regularizers
from lstmkit.kernels import activations
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import resolve

DATA_FORMATS = ("channels_last", "channels_first")


def standardize_tuple(layer: str, arg: str, value: Any, allow_zero: bool = False) -> tuple[int]:
    """An int or a 1-element list/tuple of ints -> `(n,)` (Keras writes it as `[n]`)."""
    items = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    lowest = 0 if allow_zero else 1
    if (
        items is None
        or len(items) != 1
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in items)
        or items[0] < lowest
    ):
        raise ValueError(
            f"Layer '{layer}': `{arg}` must be an integer >= {lowest} or a tuple of one such "
            f"integer, got {value!r}."
        )
    return items


def check_padding(layer: str, padding: Any, allowed: tuple[str, ...]) -> str:
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(f"Layer '{layer}': `padding` must be one of {allowed}, got {padding!r}.")
    return value


def check_data_format(layer: str, data_format: Any) -> str:
    value = "channels_last" if data_format is None else data_format
    value = value.lower() if isinstance(value, str) else value
    if value not in DATA_FORMATS:
        raise ValueError(
            f"Layer '{layer}': `data_format` must be one of {DATA_FORMATS}, got {data_format!r}."
        )
    return value


def check_3d(layer: Any, shape: Any, what: str) -> None:
    if shape is not None and len(shape) != 3:
        raise ValueError(
            f"Layer '{layer.name}' expects a 3-D input {what}, got shape {tuple(shape)}."
        )


def output_length(length: int | None, window: int, stride: int, padding: str) -> int | None:
    """Steps after a window of (dilated) size `window` slides with `stride` (Keras's formula)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - window) // stride + 1
    return (length - 1) // stride + 1  # same, causal


class Conv1D(Layer):
    """`activation(conv1d(inputs, kernel) + bias)`; kernel (kernel_size, channels/groups,
    filters), as Keras. `padding="causal"` pads the start so step t sees only steps <= t."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):  # fmt: skip
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        name = self.name
        for arg, value in (("filters", filters), ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Layer '{name}': `{arg}` must be a positive integer, "
                                 f"got {value!r}.")  # fmt: skip
        if filters % groups:
            raise ValueError(f"Layer '{name}': `filters` ({filters}) must be divisible by "
                             f"`groups` ({groups}).")  # fmt: skip
        self.filters, self.groups = filters, groups
        self.kernel_size = standardize_tuple(name, "kernel_size", kernel_size)
        self.strides = standardize_tuple(name, "strides", strides)
        self.dilation_rate = standardize_tuple(name, "dilation_rate", dilation_rate)
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(
                f"Layer '{name}': `strides` > 1 cannot be combined with `dilation_rate` > 1 "
                f"(as in Keras); got strides={strides}, dilation_rate={dilation_rate}."
            )
        self.padding = check_padding(name, padding, ("valid", "same", "causal"))
        self.data_format = check_data_format(name, data_format)
        self.activation = resolve(name, "activation", activations.get, activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = resolve(name, "kernel_initializer", initializers.get,
                                          kernel_initializer)  # fmt: skip
        self.bias_initializer = resolve(name, "bias_initializer", initializers.get,
                                        bias_initializer)  # fmt: skip
        self.kernel_regularizer = resolve(name, "kernel_regularizer", regularizers.get,
                                          kernel_regularizer)  # fmt: skip
        self.bias_regularizer = resolve(name, "bias_regularizer", regularizers.get,
                                        bias_regularizer)  # fmt: skip
        self.kernel_constraint = resolve(name, "kernel_constraint", constraints.get,
                                         kernel_constraint)  # fmt: skip
        self.bias_constraint = resolve(name, "bias_constraint", constraints.get, bias_constraint)

    @property
    def channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    @property
    def steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def build(self, input_shape):
        check_3d(self, input_shape, "(batch, steps, channels) or (batch, channels, steps)")
        channels = input_shape[self.channel_axis]
        if channels is None or channels % self.groups:
            raise ValueError(
                f"Layer '{self.name}': the input's channels ({channels}, axis "
                f"{self.channel_axis} of shape {tuple(input_shape)}) must be known and divisible "
                f"by `groups` ({self.groups})."
            )
        self.compute_output_shape(input_shape)  # a too-short input fails here, as in Keras
        kernel_shape = (self.kernel_size[0], channels // self.groups, self.filters)
        self.add_weight("kernel", kernel_shape, self.kernel_initializer, self.kernel_regularizer,
                        self.kernel_constraint)  # fmt: skip
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)  # fmt: skip

    def check_input(self, shape):
        check_3d(self, shape, "(batch, steps, channels) or (batch, channels, steps)")
        built = self._build_shape
        if built is not None and shape[self.channel_axis] != built[self.channel_axis]:
            raise ValueError(
                f"Layer '{self.name}' was built for inputs with {built[self.channel_axis]} "
                f"channels (shape {tuple(built)}), but was called on shape {tuple(shape)}."
            )

    def pure_call(self, params, inputs, **kwargs):
        kernel = params["kernel"]  # (kernel_size, channels/groups, filters)
        x = jnp.asarray(inputs).astype(kernel.dtype)
        padding = self.padding.upper()
        if self.padding == "causal":  # left-pad the steps by the dilated kernel's reach
            pad = [(0, 0)] * 3
            pad[self.steps_axis] = (self.dilation_rate[0] * (self.kernel_size[0] - 1), 0)
            x, padding = jnp.pad(x, pad), "VALID"
        layout = "NWC" if self.data_format == "channels_last" else "NCW"
        y = jax.lax.conv_general_dilated(
            x, kernel, self.strides, padding, rhs_dilation=self.dilation_rate,
            dimension_numbers=(layout, "WIO", layout), feature_group_count=self.groups,
        )  # fmt: skip  # (batch, steps', filters) or (batch, filters, steps')
        if self.use_bias:
            shape = (1, 1, self.filters) if self.data_format == "channels_last" else (1, -1, 1)
            y = y + params["bias"].reshape(shape)
        return self.activation(y)

    def compute_output_shape(self, input_shape, **kwargs):
        check_3d(self, input_shape, "(batch, steps, channels) or (batch, channels, steps)")
        reach = self.dilation_rate[0] * (self.kernel_size[0] - 1) + 1
        steps = output_length(input_shape[self.steps_axis], reach, self.strides[0], self.padding)
        if steps is not None and steps <= 0:
            raise ValueError(
                f"Layer '{self.name}': inputs of shape {tuple(input_shape)} are too short for "
                f"kernel_size={self.kernel_size[0]}, dilation_rate={self.dilation_rate[0]}, "
                f"strides={self.strides[0]} with padding='{self.padding}' (the output would "
                f"have {steps} steps)."
            )
        if self.data_format == "channels_last":
            return (input_shape[0], steps, self.filters)
        return (input_shape[0], self.filters, steps)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "groups": self.groups,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }  # fmt: skip
