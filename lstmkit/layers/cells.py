"""Recurrent cells: LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells.

What `RNN` asks of a cell is small: `state_size` (and `output_size`), `dropout_masks(key, batch,
input_dim, dtype)`, drawn once per call, and `step(params, x_t, states, masks)` -> `(output,
new_states, quantities)`, where `quantities` names every internal value of the step (an LSTM's
gates, candidate and states), computed by the equations in kernels/recurrent.py.
Called directly, `cell(x_t, states)` returns `(output, new_states)` with `output is new_states[0]`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import constraints, initializers, regularizers, utils
from lstmkit.kernels import activations
from lstmkit.kernels import recurrent as rec
from lstmkit.layers.base import Layer, to_arrays


def check_units(layer: str, units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValueError(f"Layer '{layer}': `units` must be a positive integer, got {units!r}.")
    return units


def check_rate(layer: str, arg: str, rate: Any) -> float:
    if not isinstance(rate, (int, float)) or not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"Layer '{layer}': `{arg}` must be a float in [0, 1), got {rate!r}.")
    return float(rate)


def resolve(layer: str, arg: str, getter: Any, value: Any) -> Any:
    """`getter(value)` (activations.get, initializers.get, ...), its error naming the layer."""
    try:
        return getter(value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"Layer '{layer}': invalid `{arg}`: {e}") from None


def zero_states(state_size: Any, batch: int, dtype: Any) -> Any:
    """Zero states shaped like `state_size` (ints, or one list per stacked cell): (batch, n)."""
    return jax.tree_util.tree_map(lambda n: jnp.zeros((batch, n), dtype), state_size)


def dropout_mask(key: jax.Array, rate: float, shape: tuple, dtype) -> jax.Array:
    """Inverted dropout mask: 0 with probability `rate`, else 1/(1-rate)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return keep.astype(dtype) / (1.0 - rate)


class RecurrentCell(Layer):
    """Shared configuration of the LSTM, GRU and simple cells; subclasses define `_gates`."""

    gates = 1
    state_names: tuple[str, ...] = ("hidden_state",)  # the quantities carried as states

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        implementation: int = 2,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)  # Keras 1 names: the layers (LSTM...) take them
        self.units = check_units(self.name, units)
        self.activation = resolve(self.name, "activation", activations.get, activation)
        self.recurrent_activation = resolve(
            self.name, "recurrent_activation", activations.get, recurrent_activation
        )
        self.use_bias = bool(use_bias)
        for arg, init in [("kernel_initializer", kernel_initializer),
                          ("recurrent_initializer", recurrent_initializer),
                          ("bias_initializer", bias_initializer)]:  # fmt: skip
            resolve(self.name, arg, initializers.get, init)  # fail here, not at build
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.recurrent_constraint = recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = check_rate(self.name, "dropout", dropout)
        self.recurrent_dropout = check_rate(self.name, "recurrent_dropout", recurrent_dropout)
        self.seed = seed
        # Keras switches to one dropout mask per gate when recurrent dropout is on.
        self.implementation = 1 if self.recurrent_dropout else int(implementation)

    @property
    def state_size(self) -> list[int]:
        return [self.units]

    @property
    def output_size(self) -> int:
        return self.units

    def _build_kernels(self, input_dim: int, bias_shape: tuple, bias_init: Any) -> None:
        g = self.gates
        self.add_weight("kernel", (input_dim, g * self.units), self.kernel_initializer,
                        self.kernel_regularizer, self.kernel_constraint)  # fmt: skip
        self.add_weight("recurrent_kernel", (self.units, g * self.units),
                        self.recurrent_initializer, self.recurrent_regularizer,
                        self.recurrent_constraint)  # fmt: skip
        if self.use_bias:
            self.add_weight("bias", bias_shape, bias_init, self.bias_regularizer,
                            self.bias_constraint)  # fmt: skip

    def build(self, input_shape: Any) -> None:
        self._build_kernels(input_shape[-1], (self.gates * self.units,), self.bias_initializer)

    def dropout_masks(self, key: jax.Array | None, batch: int, input_dim: int, dtype: Any):
        """Masks drawn once per call and reused at every step: (in_mask, rec_mask), each None
        or shaped (k, batch, dim): k = 1, or one per gate (Keras's implementation 1)."""
        if key is None:
            return None, None
        k = self.gates if self.implementation == 1 else 1
        k_in, k_rec = jax.random.split(key)
        in_mask = rec_mask = None
        if self.dropout:
            in_mask = dropout_mask(k_in, self.dropout, (k, batch, input_dim), dtype)
        if self.recurrent_dropout:
            rec_mask = dropout_mask(k_rec, self.recurrent_dropout, (k, batch, self.units), dtype)
        return in_mask, rec_mask

    def step(self, params: dict, x_t: jax.Array, states: list, masks: Any = None) -> tuple:
        """One step: (batch, in) and states -> (output, new_states, every internal quantity)."""
        in_mask, rec_mask = masks if masks is not None else (None, None)
        bias = params.get("bias")
        if bias is not None and bias.ndim == 2:  # GRU reset_after: [input bias, recurrent bias]
            bias = bias[0]
        z = rec.input_projection(x_t, params["kernel"], bias, self.gates, in_mask)
        gates = self._gates(params, z, states, rec_mask)  # z: (batch, gates*units)
        new_states = [gates[name] for name in self.state_names]
        return new_states[0], new_states, gates

    def _gates(self, params, z, states, rec_mask) -> dict:
        raise NotImplementedError

    def __call__(self, inputs: Any, states: Any = None, training: bool = False, **kwargs: Any):
        """Keras's cell call: `cell(x_t, [h, c])` -> `(h, [h, c])`, output is states[0]."""
        x_t = to_arrays(inputs)
        if x_t.ndim != 2:
            raise ValueError(
                f"Cell '{self.name}' expects one time step shaped (batch, features); "
                f"got shape {tuple(x_t.shape)}."
            )
        self.maybe_build(tuple(x_t.shape))
        if states is None:
            states = zero_states(self.state_size, x_t.shape[0], self.dtype)
        states = [to_arrays(s) for s in (states if isinstance(states, (list, tuple)) else [states])]
        expected = [(x_t.shape[0], n) for n in self.state_size]
        if [tuple(s.shape) for s in states] != expected:
            raise ValueError(
                f"Cell '{self.name}' expects states shaped {expected}, "
                f"got {[tuple(s.shape) for s in states]}."
            )
        key = utils.next_key() if training else None
        masks = self.dropout_masks(key, x_t.shape[0], x_t.shape[-1], x_t.dtype)
        _, new_states, _ = self.step(self.params, x_t, states, masks)
        return new_states[0], list(new_states)  # the output *is* the first state, as in Keras

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(initializers.get(self.kernel_initializer)),
            "recurrent_initializer": initializers.serialize(
                initializers.get(self.recurrent_initializer)
            ),
            "bias_initializer": initializers.serialize(initializers.get(self.bias_initializer)),
            "kernel_regularizer": regularizers.serialize(regularizers.get(self.kernel_regularizer)),
            "recurrent_regularizer": regularizers.serialize(
                regularizers.get(self.recurrent_regularizer)
            ),
            "bias_regularizer": regularizers.serialize(regularizers.get(self.bias_regularizer)),
            "kernel_constraint": constraints.serialize(constraints.get(self.kernel_constraint)),
            "recurrent_constraint": constraints.serialize(
                constraints.get(self.recurrent_constraint)
            ),
            "bias_constraint": constraints.serialize(constraints.get(self.bias_constraint)),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class LSTMCell(RecurrentCell):
    """One LSTM step; kernel (in, 4u), recurrent_kernel (u, 4u), bias (4u); gates i, f, c, o."""

    gates = 4

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs: Any):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self) -> list[int]:
        return [self.units, self.units]

    def build(self, input_shape: Any) -> None:
        bias_init = self.bias_initializer
        if self.unit_forget_bias:
            base = initializers.get(self.bias_initializer)
            u = self.units

            def bias_init(shape, dtype=None):  # [init(u), ones(u), init(2u)]: forget bias is 1.0
                # joined by NumPy: an eager jnp.concatenate compiles a program per size
                first, rest = np.asarray(base((u,), dtype)), np.asarray(base((2 * u,), dtype))
                return np.concatenate([first, np.ones((u,), first.dtype), rest])

        self._build_kernels(input_shape[-1], (4 * self.units,), bias_init)

    state_names = ("hidden_state", "cell_state")

    def _gates(self, params, z, states, rec_mask):
        h, c = states
        u = params["recurrent_kernel"]
        return rec.lstm_gates(z, h, c, u, self.activation, self.recurrent_activation, rec_mask)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(RecurrentCell):
    """One GRU step; gates z r h; with reset_after (default) the bias is (2, 3u)."""

    gates = 3

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def build(self, input_shape: Any) -> None:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        self._build_kernels(input_shape[-1], shape, self.bias_initializer)

    def _gates(self, params, z, states, rec_mask):
        b = params.get("bias")
        rec_bias = b[1] if b is not None and self.reset_after else None
        return rec.gru_gates(
            z, states[0], params["recurrent_kernel"], rec_bias, self.activation,
            self.recurrent_activation, self.reset_after, rec_mask,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


class SimpleRNNCell(RecurrentCell):
    """h = activation(x @ kernel + bias + h @ recurrent_kernel)."""

    gates = 1

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, **kwargs)

    def _gates(self, params, z, states, rec_mask):
        return rec.simple_gates(z, states[0], params["recurrent_kernel"], self.activation, rec_mask)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("recurrent_activation")
        return config


class StackedRNNCells(Layer):
    """Several cells run as one: each step feeds cell k's output to cell k+1."""

    def __init__(self, cells: list, **kwargs: Any):
        super().__init__(**kwargs)
        if not cells:
            raise ValueError(f"Layer '{self.name}': `cells` must be a non-empty list of cells.")
        self.cells = list(cells)
        for i, cell in enumerate(self.cells):
            self.track(f"cell_{i}", cell)

    @property
    def state_size(self) -> list[list[int]]:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def build(self, input_shape: Any) -> None:
        dim = input_shape[-1]
        for cell in self.cells:
            cell.maybe_build((input_shape[0], dim))
            dim = cell.output_size

    def dropout_masks(self, key, batch, input_dim, dtype) -> list | None:
        """One (in_mask, rec_mask) pair per cell, each cell's input being the one below's output."""
        if key is None:
            return None
        keys = jax.random.split(key, len(self.cells))
        dims = [input_dim] + [c.output_size for c in self.cells[:-1]]
        return [c.dropout_masks(k, batch, d, dtype) for c, k, d in zip(self.cells, keys, dims)]

    def step(self, params, x_t, states, masks=None) -> tuple:
        """Cell k's output is cell k+1's input; the internal quantities come one dict per cell."""
        masks = masks if masks is not None else [None] * len(self.cells)
        new_states, gates = [], []
        for i, cell in enumerate(self.cells):
            x_t, s, g = cell.step(params[f"cell_{i}"], x_t, states[i], masks[i])
            new_states.append(s)
            gates.append(g)
        return x_t, new_states, gates

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}


def carried_states(cell: Any, states: Any, carry: bool = True) -> Any:
    """`states` as the scan carries them (`carry`) or as the layer returns them.

    Only under a mixed policy, and only for a cell with a "cell_state" (LSTM, ConvLSTM), does
    this cast: every state to the compute dtype, except that the carried cell state is in the
    variable dtype (float32), so that `f*c + i*g` does not round a long memory to bfloat16. The
    returned c is in the compute dtype, as Keras returns it. See lstmkit.mixed_precision."""
    if isinstance(cell, StackedRNNCells):
        return [carried_states(c, s, carry) for c, s in zip(cell.cells, states)]
    policy = getattr(cell, "dtype_policy", None)
    names = getattr(cell, "state_names", ())
    if policy is None or not policy.is_mixed or "cell_state" not in names:
        return states
    if not isinstance(states, (list, tuple)):
        return states
    wide = policy.variable_dtype if carry else policy.compute_dtype
    return [
        jnp.asarray(s, wide if n == "cell_state" else policy.compute_dtype)
        for n, s in zip(names, states)
    ]
