"""Recurrent cells: LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells.

A cell works in two halves: `project(params, x, in_mask)` prepares the whole input sequence for
the time loop (the inputs themselves, or x @ kernel + bias for every step at once when dropout
draws one mask per gate), and `step(params, x_t, states, rec_mask)` runs one step: `step_input`
gives x_t @ kernel + bias, ops/recurrent.py the recurrence.
Called directly, `cell(x_t, states)` returns `(output, new_states)` with `output is new_states[0]`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit import initializers, utils
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


def dropout_mask(key: jax.Array, rate: float, shape: tuple, dtype) -> jax.Array:
    """Inverted dropout mask: 0 with probability `rate`, else 1/(1-rate)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return keep.astype(dtype) / (1.0 - rate)


class RecurrentCell(Layer):
    """Shared configuration of the LSTM, GRU and simple cells; subclasses define gates, step."""

    gates = 1

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

    def zero_states(self, batch: int, dtype: Any) -> list:
        return [jnp.zeros((batch, n), dtype) for n in self.state_size]

    def dropout_masks(self, key: jax.Array | None, batch: int, input_dim: int, dtype: Any):
        """Masks drawn once per call and reused at every step: (in_mask, rec_mask), None if off."""
        if key is None:
            return None, None
        count = self.gates if self.implementation == 1 and self.gates > 1 else None
        k_in, k_rec = jax.random.split(key)
        in_mask = rec_mask = None
        if self.dropout:
            shape = (batch, input_dim) if count is None else (count, batch, input_dim)
            in_mask = dropout_mask(k_in, self.dropout, shape, dtype)
        if self.recurrent_dropout:
            shape = (batch, self.units) if count is None else (count, batch, self.units)
            rec_mask = dropout_mask(k_rec, self.recurrent_dropout, shape, dtype)
        return in_mask, rec_mask

    def input_bias(self, params: dict) -> jax.Array | None:
        return params.get("bias")

    def project_all(self, params: dict, x: jax.Array, in_mask: jax.Array | None) -> jax.Array:
        """(batch, time, in) -> (batch, time, gates*units): the input half of every step."""
        return rec.input_projection(
            x, params["kernel"], self.input_bias(params), self.gates, in_mask
        )

    def project(self, params: dict, x: jax.Array, in_mask: jax.Array | None) -> dict:
        """What the time loop consumes: the inputs themselves, projected inside each step
        (measured: XLA on CPU runs the small per-step product faster than one large product
        and a transpose, 1.6x for inference), or, with one dropout mask per gate, the
        projections made up front."""
        if in_mask is not None and in_mask.ndim == 3:
            return {"z": self.project_all(params, x, in_mask)}
        return {"x": x if in_mask is None else x * in_mask[:, None, :]}

    def step_input(self, params: dict, x_t: dict) -> jax.Array:
        """One step of `project`'s output -> x_t @ kernel + bias, (batch, gates*units)."""
        if "z" in x_t:
            return x_t["z"]
        z = x_t["x"] @ params["kernel"]
        bias = self.input_bias(params)
        return z if bias is None else z + bias

    def step(self, params, x_t, states, rec_mask=None):
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
            states = self.zero_states(x_t.shape[0], self.dtype)
        states = [to_arrays(s) for s in (states if isinstance(states, (list, tuple)) else [states])]
        expected = [(x_t.shape[0], n) for n in self.state_size]
        if [tuple(s.shape) for s in states] != expected:
            raise ValueError(
                f"Cell '{self.name}' expects states shaped {expected}, "
                f"got {[tuple(s.shape) for s in states]}."
            )
        key = utils.next_key() if training else None
        out, new_states = self._eager_step(self.params, x_t, states, key)
        new_states = list(new_states)
        return new_states[0], new_states  # the output *is* the first state, as in Keras

    def _eager_step(self, params, x_t, states, key):
        in_mask, rec_mask = self.dropout_masks(key, x_t.shape[0], x_t.shape[-1], x_t.dtype)
        x_in = jax.tree_util.tree_map(
            lambda a: a[:, 0], self.project(params, x_t[:, None], in_mask)
        )
        return self.step(params, x_in, states, rec_mask)

    def get_config(self) -> dict[str, Any]:
        from lstmkit import constraints, initializers, regularizers

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
                return jnp.concatenate(
                    [base((u,), dtype), jnp.ones((u,), dtype), base((2 * u,), dtype)]
                )

        self._build_kernels(input_shape[-1], (4 * self.units,), bias_init)

    def step(self, params, x_t, states, rec_mask=None):
        z = self.step_input(params, x_t)  # (batch, 4*units)
        u = params["recurrent_kernel"]
        return rec.lstm_step(z, states, u, self.activation, self.recurrent_activation, rec_mask)

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

    def input_bias(self, params: dict) -> jax.Array | None:
        b = params.get("bias")
        return b[0] if b is not None and self.reset_after else b

    def step(self, params, x_t, states, rec_mask=None):
        b = params.get("bias")
        rec_bias = b[1] if b is not None and self.reset_after else None
        z = self.step_input(params, x_t)  # (batch, 3*units)
        return rec.gru_step(
            z, states, params["recurrent_kernel"], rec_bias, self.activation,
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

    def step(self, params, x_t, states, rec_mask=None):
        z = self.step_input(params, x_t)  # (batch, units)
        return rec.simple_step(z, states, params["recurrent_kernel"], self.activation, rec_mask)

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

    def zero_states(self, batch: int, dtype: Any) -> list:
        return [c.zero_states(batch, dtype) for c in self.cells]

    def dropout_masks(self, key, batch, input_dim, dtype):
        if key is None:
            return None, None
        keys = jax.random.split(key, len(self.cells))
        dims = [input_dim] + [c.output_size for c in self.cells[:-1]]
        pairs = [c.dropout_masks(k, batch, d, dtype) for c, k, d in zip(self.cells, keys, dims)]
        # Both halves go to `step`, where each cell projects its own input.
        return None, ([p[0] for p in pairs], [p[1] for p in pairs])

    def project(self, params, x, in_mask):
        return x  # each cell projects its own input inside the step

    def step(self, params, x_t, states, rec_mask=None):
        in_masks = rec_mask[0] if rec_mask is not None else [None] * len(self.cells)
        rec_masks = rec_mask[1] if rec_mask is not None else [None] * len(self.cells)
        new_states = []
        for i, cell in enumerate(self.cells):
            p = params[f"cell_{i}"]
            x_in = jax.tree_util.tree_map(
                lambda a: a[:, 0], cell.project(p, x_t[:, None], in_masks[i])
            )
            x_t, s = cell.step(p, x_in, states[i], rec_masks[i])
            new_states.append(s)
        return x_t, new_states

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
