"""RNN (runs any cell over time) and the LSTM, GRU and SimpleRNN layers built on it."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit import legacy, regularizers
from lstmkit.kernels.recurrent import rnn_scan
from lstmkit.layers.base import Layer, is_shape, peek_name
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.naming import to_snake_case


def _flat_sizes(state_size: Any) -> list[int]:
    return jax.tree_util.tree_leaves(state_size)


class RNN(Layer):
    """Runs `cell` over the time axis of (batch, time, features) inputs, as keras.layers.RNN."""

    supports_masking = True

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ):
        kwargs.pop("time_major", None)
        kwargs.pop("use_cudnn", None)  # accepted and ignored: the CPU path is the only path here
        shape_args = ("input_shape", "batch_input_shape", "batch_size", "input_dim", "input_length")
        declared = legacy.declared_batch_shape(  # Keras 2: input_dim, input_length are axes 2, 1
            type(self).__name__, *(kwargs.pop(k, None) for k in shape_args), sequence=True
        )
        super().__init__(**kwargs)
        self._batch_input_shape = declared
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not hasattr(cell, "state_size") or not hasattr(cell, "step"):
            raise ValueError(
                f"Layer '{self.name}': `cell` must be an lstmkit cell (LSTMCell, GRUCell, "
                f"SimpleRNNCell, a list of them), got {cell!r}."
            )
        self.cell = self.track("cell", cell)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = unroll
        self.zero_output_for_mask = bool(zero_output_for_mask)

    # ----- shapes ------------------------------------------------------------------------------
    def check_input(self, shape: Any) -> None:
        if not is_shape(shape) or len(shape) != 3:
            raise ValueError(
                f"Layer '{self.name}' expects a 3-D input (batch, time, features), got shape "
                f"{shape}. Add a time axis, e.g. x.reshape((batch, time, features))."
            )
        super().check_input(shape)

    def build(self, input_shape: Any) -> None:
        self.check_input(input_shape)
        self.cell.maybe_build((input_shape[0], input_shape[-1]))
        if self.stateful:
            batch = input_shape[0]
            if batch is None:
                raise ValueError(
                    f"Layer '{self.name}' is stateful and needs a fixed batch size: give the "
                    "first layer `Input(batch_shape=(batch, time, features))` (or "
                    "`batch_input_shape=`)."
                )
            self._state["states"] = self.cell.zero_states(batch, self.dtype)

    def _state_shapes(self, batch: Any) -> Any:
        return jax.tree_util.tree_map(lambda n: (batch, n), self.cell.state_size)

    def compute_output_shape(self, input_shape: Any, initial_state: Any = None) -> Any:
        batch, time = input_shape[0], input_shape[1]
        units = self.cell.output_size
        out = (batch, time, units) if self.return_sequences else (batch, units)
        if not self.return_state:
            return out
        states = self._state_shapes(batch)
        return [out, *states]

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(_flat_sizes(self.cell.state_size))
        return out

    # ----- state -------------------------------------------------------------------------------
    def reset_state(self, states: Any = None) -> None:
        """Zero the carried states of a stateful layer (or set them to `states`)."""
        if not self.stateful:
            return
        current = self._state.get("states")
        if current is None:
            return
        if states is None:
            self._state["states"] = jax.tree_util.tree_map(jnp.zeros_like, current)
            return
        leaves, treedef = jax.tree_util.tree_flatten(current)
        values = states if isinstance(states, (list, tuple)) else [states]
        values = [jnp.asarray(v, dtype=self.dtype) for v in jax.tree_util.tree_leaves(values)]
        if [v.shape for v in values] != [v.shape for v in leaves]:
            raise ValueError(
                f"Layer '{self.name}': reset_state expected states shaped "
                f"{[tuple(v.shape) for v in leaves]}, got {[tuple(v.shape) for v in values]}."
            )
        self._state["states"] = jax.tree_util.tree_unflatten(treedef, values)

    reset_states = reset_state

    @property
    def states(self) -> Any:
        return self._state.get("states")

    def _initial_state(self, state: dict, batch: int, initial_state: Any, dtype: Any) -> Any:
        if initial_state is None:
            return state["states"] if self.stateful else self.cell.zero_states(batch, dtype)
        given = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        given = jax.tree_util.tree_leaves(given)
        expected = jax.tree_util.tree_leaves(self._state_shapes(batch), is_leaf=is_shape)
        if len(given) != len(expected):
            raise ValueError(
                f"Layer '{self.name}' expects {len(expected)} initial state tensor(s) "
                f"shaped {expected}, got {len(given)}."
            )
        for i, (g, e) in enumerate(zip(given, expected)):
            if tuple(g.shape) != e:
                raise ValueError(
                    f"Layer '{self.name}': initial_state[{i}] must have shape {e}, "
                    f"got {tuple(g.shape)}."
                )
        flat = [jnp.asarray(g, dtype) for g in given]
        return jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(self.cell.state_size), flat
        )

    # ----- the computation ---------------------------------------------------------------------
    def apply(self, params, state, inputs, *, training=False, mask=None, key=None,
              initial_state=None):  # fmt: skip
        x = inputs  # (batch, time, features)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.dtype)  # integer data run in the layer's dtype, as in Keras
        self.check_input(tuple(x.shape))
        batch = x.shape[0]
        if self.stateful:
            expected = jax.tree_util.tree_leaves(state["states"])[0].shape[0]
            if batch != expected:
                raise ValueError(
                    f"Layer '{self.name}' is stateful with batch size {expected}; it was called "
                    f"with batch size {batch}. Feed batches of exactly {expected} rows."
                )
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"Layer '{self.name}': mask must have shape (batch, time) = {tuple(x.shape[:2])},"
                f" got {tuple(mask.shape)}."
            )
        init = self._initial_state(state, batch, initial_state, x.dtype)
        cell_params = params["cell"]
        in_mask, rec_mask = self.cell.dropout_masks(
            key if training else None, batch, x.shape[-1], x.dtype
        )
        xs = self.cell.project(cell_params, x, in_mask)  # {"x": (batch, time, in)} or {"z": ...}
        last, outputs, final = rnn_scan(
            lambda x_t, s: self.cell.step(cell_params, x_t, s, rec_mask),
            xs,
            init,
            mask=mask,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences,
        )
        out = outputs if self.return_sequences else last
        new_state = {**state, "states": final} if self.stateful else state
        if self.return_state:
            return [out, *final], new_state
        return out, new_state

    def get_config(self) -> dict[str, Any]:
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }
        if self.activity_regularizer is not None:  # Keras's base Layer writes it only when set
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config


_RNN_ARGS = (
    "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
    "zero_output_for_mask", "name", "trainable", "dtype", "input_shape", "batch_input_shape",
    "batch_size", "input_dim", "input_length", "time_major", "use_cudnn", "weights",
    "activity_regularizer",
)  # fmt: skip


class _CellLayer(RNN):
    """An RNN that owns one cell built from the layer's own arguments (LSTM, GRU, SimpleRNN)."""

    cell_class: type = LSTMCell
    cell_name = "cell"

    def __init__(self, units: int | None = None, **kwargs: Any):
        kwargs = legacy.rename_arguments(type(self).__name__, "recurrent", kwargs)
        renamed_units = kwargs.pop("units", None)  # from Keras 1's output_dim
        units = renamed_units if units is None else units
        rnn_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_ARGS}
        # The cell checks the arguments; built under this layer's name, its errors name the
        # layer the user made ('encoder', 'lstm_1'), not 'lstm_cell'. Renamed once it exists.
        name = rnn_kwargs.get("name") or peek_name(to_snake_case(type(self).__name__))
        cell = self.cell_class(
            units,
            name=name,
            dtype=rnn_kwargs.get("dtype"),
            trainable=rnn_kwargs.get("trainable", True),
            **kwargs,
        )
        cell.name = self.cell_name
        super().__init__(cell, **rnn_kwargs)

    def __getattr__(self, name: str) -> Any:
        # Cell arguments read as layer attributes (layer.units, layer.dropout), as in Keras.
        if name in ("cell", "_sublayers") or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.cell, name)

    def get_config(self) -> dict[str, Any]:
        cell_config = self.cell.get_config()
        for k in ("name", "trainable", "dtype"):
            cell_config.pop(k)
        return {**super().get_config(), **cell_config}


class LSTM(_CellLayer):
    """Long short-term memory layer (Keras 3 arguments, defaults and weight layout)."""

    cell_class = LSTMCell
    cell_name = "lstm_cell"


class GRU(_CellLayer):
    """Gated recurrent unit layer; `reset_after=True` by default, as in Keras 3."""

    cell_class = GRUCell
    cell_name = "gru_cell"


class SimpleRNN(_CellLayer):
    """Fully connected RNN: h = activation(x W + h U + b)."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"
