"""ConvLSTM1D/2D/3D: the LSTM whose input and recurrent products are convolutions (Keras 3).

The equations are the LSTM's (`kernels/recurrent.lstm_gates`' order i, f, c, o), with
`x @ kernel` replaced by a convolution of the step's input (strides, padding, dilation as given)
and `h @ recurrent_kernel` by a stride-1 "same" convolution of the hidden state. Kernels are
laid out as Keras's: (*kernel_size, in_channels, 4*filters) and (*kernel_size, filters,
4*filters). The layer is an `RNN` running the cell with the reference scan `rnn_scan`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from lstmkit import constraints, initializers, regularizers
from lstmkit.kernels import activations
from lstmkit.kernels import recurrent as rec
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import carried_states, check_rate, dropout_mask, resolve
from lstmkit.layers.recurrent import RNN


def _tuple(layer: str, arg: str, value: Any, rank: int) -> tuple[int, ...]:
    values = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(values) != rank or not all(isinstance(v, int) and v > 0 for v in values):
        raise ValueError(
            f"Layer '{layer}': `{arg}` must be an int or {rank} positive ints, got {value!r}."
        )
    return values


def conv_output_length(size: int, kernel: int, stride: int, padding: str, dilation: int) -> int:
    """Keras's output length of one spatial axis."""
    if padding == "same":
        return -(-size // stride)
    return (size - dilation * (kernel - 1) - 1) // stride + 1


def _ser(module: Any, obj: Any) -> Any:
    return module.serialize(module.get(obj))


class ConvLSTMCell(Layer):
    """One ConvLSTM step on (batch, *spatial, channels) inputs (or channels first)."""

    state_names = ("hidden_state", "cell_state")

    def __init__(self, rank: int, filters: int, kernel_size: Any, strides: Any = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: Any = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None,
                 **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(f"Layer '{self.name}': rank must be 1, 2 or 3, got {rank!r}.")
        self.rank = rank
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Layer '{self.name}': `filters` must be a positive integer, got "
                             f"{filters!r}.")  # fmt: skip
        self.filters = filters
        self.kernel_size = _tuple(self.name, "kernel_size", kernel_size, rank)
        self.strides = _tuple(self.name, "strides", strides, rank)
        self.dilation_rate = _tuple(self.name, "dilation_rate", dilation_rate, rank)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Layer '{self.name}': strides > 1 cannot be combined with "
                             f"dilation_rate > 1 (got {self.strides}, "
                             f"{self.dilation_rate}).")  # fmt: skip
        padding = str(padding).lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"Layer '{self.name}': `padding` must be 'valid' or 'same', got "
                             f"{padding!r}.")  # fmt: skip
        self.padding = padding
        data_format = data_format or "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"Layer '{self.name}': `data_format` must be 'channels_last' or "
                             f"'channels_first', got {data_format!r}.")  # fmt: skip
        self.data_format = data_format
        self.activation = resolve(self.name, "activation", activations.get, activation)
        self.recurrent_activation = resolve(self.name, "recurrent_activation", activations.get,
                                            recurrent_activation)  # fmt: skip
        self.use_bias = bool(use_bias)
        for arg, init in (("kernel_initializer", kernel_initializer),
                          ("recurrent_initializer", recurrent_initializer),
                          ("bias_initializer", bias_initializer)):  # fmt: skip
            resolve(self.name, arg, initializers.get, init)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.recurrent_constraint = recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = check_rate(self.name, "dropout", dropout)
        self.recurrent_dropout = check_rate(self.name, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self.input_step_shape: tuple | None = None  # (*spatial, channels) or channels first

    # ----- shapes ------------------------------------------------------------------------------
    @property
    def channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def step_output_shape(self, step_shape: tuple) -> tuple:
        """(*spatial, channels) of one step -> the states' (*spatial_out, filters)."""
        spatial = step_shape[:-1] if self.channels_last else step_shape[1:]
        out = tuple(conv_output_length(s, k, st, self.padding, d) for s, k, st, d in
                    zip(spatial, self.kernel_size, self.strides, self.dilation_rate))  # fmt: skip
        return (*out, self.filters) if self.channels_last else (self.filters, *out)

    @property
    def state_shape(self) -> tuple | None:
        """The states' shape without the batch axis (None until built)."""
        if self.input_step_shape is None:
            return None
        return self.step_output_shape(self.input_step_shape)

    @property
    def state_size(self) -> list[tuple]:
        return [self.state_shape, self.state_shape]

    @property
    def output_size(self) -> tuple:
        return self.state_shape

    def build(self, input_shape: Any) -> None:
        """`input_shape`: one step, (batch, *spatial, channels) (or channels first)."""
        step = tuple(input_shape[1:])
        if None in step:
            raise ValueError(f"Layer '{self.name}': ConvLSTM needs static spatial and channel "
                             f"sizes, got input step shape {input_shape}.")  # fmt: skip
        self.input_step_shape = step
        channels = step[-1] if self.channels_last else step[0]
        f = self.filters
        bias_init = self.bias_initializer
        if self.unit_forget_bias:
            base = initializers.get(self.bias_initializer)

            def bias_init(shape, dtype=None):  # [init(f), ones(f), init(2f)]: forget bias 1.0
                return jnp.concatenate([base((f,), dtype), jnp.ones((f,), dtype),
                                        base((2 * f,), dtype)])  # fmt: skip

        self.add_weight("kernel", (*self.kernel_size, channels, 4 * f), self.kernel_initializer,
                        self.kernel_regularizer, self.kernel_constraint)  # fmt: skip
        self.add_weight("recurrent_kernel", (*self.kernel_size, f, 4 * f),
                        self.recurrent_initializer, self.recurrent_regularizer,
                        self.recurrent_constraint)  # fmt: skip
        if self.use_bias:
            self.add_weight("bias", (4 * f,), bias_init, self.bias_regularizer,
                            self.bias_constraint)  # fmt: skip

    # ----- the step ----------------------------------------------------------------------------
    def _conv(self, x: jax.Array, w: jax.Array, strides: tuple, padding: str,
              dilation: tuple) -> jax.Array:  # fmt: skip
        spatial = "DHW"[3 - self.rank :]
        lhs = f"N{spatial}C" if self.channels_last else f"NC{spatial}"
        dims = lax.conv_dimension_numbers(x.shape, w.shape, (lhs, f"{spatial}IO", lhs))
        return lax.conv_general_dilated(x, w, strides, padding.upper(), rhs_dilation=dilation,
                                        dimension_numbers=dims)  # fmt: skip

    def dropout_masks(self, key: jax.Array | None, batch: int, input_dim: Any, dtype: Any):
        """One mask per gate, drawn once per call: (4, batch, *step shape) each, or None."""
        if key is None:
            return None, None
        k_in, k_rec = jax.random.split(key)
        in_mask = rec_mask = None
        if self.dropout:
            shape = (4, batch, *self.input_step_shape)
            in_mask = dropout_mask(k_in, self.dropout, shape, dtype)
        if self.recurrent_dropout:
            shape = (4, batch, *self.state_shape)
            rec_mask = dropout_mask(k_rec, self.recurrent_dropout, shape, dtype)
        return in_mask, rec_mask

    def step(self, params: dict, x_t: jax.Array, states: list, masks: Any = None) -> tuple:
        """(batch, *step) and [h, c] -> (h, [h, c], every gate by name): four convolutions per
        product (one per gate, each with its own dropout mask, as Keras), then the LSTM
        equations of kernels/recurrent.py."""
        in_mask, rec_mask = masks if masks is not None else (None, None)
        h, c = states
        kernels = jnp.split(params["kernel"], 4, axis=-1)  # each (*k, in, filters)
        rec_kernels = jnp.split(params["recurrent_kernel"], 4, axis=-1)
        ones = (1,) * self.rank
        z = []
        for g in range(4):  # gates i, f, c, o, each with its own dropout mask (as Keras)
            x_g = x_t if in_mask is None else x_t * in_mask[g]
            h_g = h if rec_mask is None else h * rec_mask[g]
            zx = self._conv(x_g, kernels[g], self.strides, self.padding, self.dilation_rate)
            if self.use_bias:
                b = jnp.split(params["bias"], 4)[g]
                zx = zx + (b if self.channels_last else b.reshape((-1,) + ones))
            z.append(zx + self._conv(h_g, rec_kernels[g], ones, "same", ones))
        axis = -1 if self.channels_last else 1  # the gates stacked on the channel axis
        gates = rec.lstm_gates_from(jnp.concatenate(z, axis=axis), c, self.activation,
                                    self.recurrent_activation, axis=axis)  # fmt: skip
        h_new, c_new = gates["hidden_state"], gates["cell_state"]  # (batch, *spatial, filters)
        return h_new, [h_new, c_new], gates

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "recurrent_initializer": _ser(initializers, self.recurrent_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "recurrent_regularizer": _ser(regularizers, self.recurrent_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "recurrent_constraint": _ser(constraints, self.recurrent_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }  # fmt: skip


_RNN_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask", "name", "trainable", "dtype", "activity_regularizer",
             "input_shape", "batch_input_shape", "batch_size")  # fmt: skip


class ConvLSTM(RNN):
    """The ConvLSTM layers: an RNN over (batch, time, *spatial, channels) sequences."""

    cell_class = ConvLSTMCell
    rank = 2

    def __init__(self, filters: int, kernel_size: Any, **kwargs: Any):
        rnn_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_ARGS}
        cell = ConvLSTMCell(self.rank, filters, kernel_size, name="conv_lstm_cell",
                            dtype=rnn_kwargs.get("dtype"), **kwargs)  # fmt: skip
        super().__init__(cell, **rnn_kwargs)

    def check_input(self, shape: Any) -> None:
        n = self.rank + 3
        if not isinstance(shape, tuple) or len(shape) != n:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects a {n}-D input (batch, time,"
                f" {self.rank} spatial axes, channels), got shape {shape}."
            )
        Layer.check_input(self, shape)

    def build(self, input_shape: Any) -> None:
        self.check_input(tuple(input_shape))
        self.cell.maybe_build((input_shape[0], *input_shape[2:]))
        if self.stateful:
            if input_shape[0] is None:
                raise ValueError(f"Layer '{self.name}' is stateful and needs a fixed batch size:"
                                 " give the Input a batch_shape.")  # fmt: skip
            zeros = self._zeros(input_shape[0], self.compute_dtype)
            self._state["states"] = carried_states(self.cell, zeros)  # c in float32 if mixed

    def _zeros(self, batch: int, dtype: Any) -> list:
        return [jnp.zeros((batch, *self.cell.state_shape), dtype) for _ in range(2)]

    def _state_shapes(self, batch: Any) -> list:
        return [(batch, *self.cell.state_shape)] * 2

    def _initial_state(self, state: dict, batch: int, initial_state: Any, dtype: Any) -> Any:
        if initial_state is None:
            return state["states"] if "states" in state else self._zeros(batch, dtype)
        given = list(initial_state) if isinstance(initial_state, (list, tuple)) else []
        expected = self._state_shapes(batch)
        if [tuple(g.shape) for g in given] != expected:
            raise ValueError(
                f"Layer '{self.name}' expects initial_state [h, c] shaped {expected}, got "
                f"{[tuple(g.shape) for g in given] if given else initial_state!r:.80}."
            )
        return [jnp.asarray(g, dtype) for g in given]

    def compute_output_shape(self, input_shape: Any, initial_state: Any = None) -> Any:
        batch, time = input_shape[0], input_shape[1]
        step = self.cell.step_output_shape(tuple(input_shape[2:]))
        out = (batch, time, *step) if self.return_sequences else (batch, *step)
        return [out, (batch, *step), (batch, *step)] if self.return_state else out


class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM: inputs (batch, time, steps, channels)."""

    rank = 1


class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM: inputs (batch, time, rows, cols, channels)."""

    rank = 2


class ConvLSTM3D(ConvLSTM):
    """3-D convolutional LSTM: inputs (batch, time, depth, rows, cols, channels)."""

    rank = 3
