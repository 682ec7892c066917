"""RNN (runs any cell over time) and the LSTM, GRU and SimpleRNN layers built on it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from lstmkit import legacy, mixed_precision, regularizers
from lstmkit.kernels.cudnn import try_cudnn_lstm
from lstmkit.kernels.fused import try_fused_rnn
from lstmkit.kernels.native.gru import try_native_gru_trace
from lstmkit.kernels.native.lstm import try_native_trace
from lstmkit.kernels.recurrent import rnn_scan
from lstmkit.layers.base import Layer, flush_writes, is_shape, peek_name
from lstmkit.layers.cells import (
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
    carried_states,
    zero_states,
)
from lstmkit.naming import to_snake_case

# The glass box's hook: while `record_steps()` is active, each RNN that runs stores its per-step
# quantities (gates and states, (batch, time, units)) there, computed by the same scan.
_step_records: list[dict] = []


@contextlib.contextmanager
def record_steps() -> Iterator[dict]:
    """Collect, by id(layer), every RNN's per-step quantities while active: a list with one
    {quantity: (batch, time, units) array} per cell (one item unless cells are stacked)."""
    record: dict = {}
    _step_records.append(record)
    try:
        yield record
    finally:
        _step_records.pop()


# Cells the fused path knows (exact types: a subclass may change the step).
_FUSED_KINDS = {LSTMCell: "lstm", GRUCell: "gru", SimpleRNNCell: "simple"}


def _flat_sizes(state_size: Any) -> list[int]:
    return jax.tree_util.tree_leaves(state_size)


class RNN(Layer):
    """Runs `cell` over the time axis of (batch, time, features) inputs, as keras.layers.RNN."""

    supports_masking = True
    cell_class: type | None = None  # LSTM, GRU, SimpleRNN: the cell built from their arguments

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
        use_cudnn = kwargs.pop("use_cudnn", "auto")  # False: never cuDNN (kernels/cudnn.py)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"{type(self).__name__}: `use_cudnn` must be 'auto', True or False, "
                f"got {use_cudnn!r}."
            )
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
        self.use_cudnn = use_cudnn  # True acts as "auto": off a GPU lstmkit falls back quietly

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
            zeros = zero_states(self.cell.state_size, batch, self.compute_dtype)
            self._state["states"] = carried_states(self.cell, zeros)  # c in float32 if mixed

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
        # A running fit keeps the states in its loop and writes them back only when someone
        # reads: land that write first, so that this reset is what the next step starts from
        # (a callback's reset was lost otherwise: the loop's states overwrote it later).
        flush_writes()
        current = self._state.get("states")
        if current is None:
            return
        if states is None:
            self._state["states"] = jax.tree_util.tree_map(jnp.zeros_like, current)
            return
        leaves, treedef = jax.tree_util.tree_flatten(current)
        values = states if isinstance(states, (list, tuple)) else [states]
        dtype = self.compute_dtype
        values = [jnp.asarray(v, dtype=dtype) for v in jax.tree_util.tree_leaves(values)]
        if [v.shape for v in values] != [v.shape for v in leaves]:
            raise ValueError(
                f"Layer '{self.name}': reset_state expected states shaped "
                f"{[tuple(v.shape) for v in leaves]}, got {[tuple(v.shape) for v in values]}."
            )
        values = jax.tree_util.tree_unflatten(treedef, values)
        self._state["states"] = carried_states(self.cell, values)  # c in float32 if mixed

    reset_states = reset_state

    @property
    def states(self) -> Any:
        flush_writes()  # a running fit's latest states, not those of before it
        return self._state.get("states")

    def _initial_state(self, state: dict, batch: int, initial_state: Any, dtype: Any) -> Any:
        """`initial_state` if given, else the states carried in `state` (a stateful layer's, or
        a streamer's), else zeros."""
        if initial_state is None:
            if "states" in state:
                return state["states"]
            return zero_states(self.cell.state_size, batch, dtype)
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
        """(params, state, inputs (batch, time, features)) -> (outputs, new_state).

        States carried in `state["states"]` (a stateful layer's, or ones a streamer put there)
        start the scan, and their final values come back in the new state.
        """
        policy = self.cell.dtype_policy
        cell_params, x = mixed_precision.autocast(policy, params["cell"], inputs, deep=True)
        compute = self.compute_dtype  # integer or narrower inputs run in the layer's dtype
        narrower = jnp.promote_types(x.dtype, compute) != x.dtype
        if narrower or not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(compute)  # (batch, time, features), as in Keras
        self.check_input(tuple(x.shape))
        batch = x.shape[0]
        if "states" in state:
            expected = jax.tree_util.tree_leaves(state["states"])[0].shape[0]
            if batch != expected:
                what = "is stateful" if self.stateful else "carries states"
                raise ValueError(
                    f"Layer '{self.name}' {what} with batch size {expected}; it was called "
                    f"with batch size {batch}. Feed batches of exactly {expected} rows."
                )
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"Layer '{self.name}': mask must have shape (batch, time) = {tuple(x.shape[:2])},"
                f" got {tuple(mask.shape)}."
            )
        # Under a mixed policy an LSTM carries its cell state in float32 (mixed_precision).
        init = carried_states(self.cell, self._initial_state(state, batch, initial_state, x.dtype))
        masks = self.cell.dropout_masks(key if training else None, batch, x.shape[-1], x.dtype)
        record = _step_records[-1] if _step_records else None
        kind = _FUSED_KINDS.get(type(self.cell))
        # On a GPU an LSTM runs on cuDNN where the semantics allow (kernels/cudnn.py); else the
        # fused path (kernels/fused.py) whenever they allow; the glass box and every other case
        # take the reference scan.
        fast = None
        if record is None and kind is not None:
            in_mask, rec_mask = masks if masks is not None else (None, None)
            opts = dict(in_mask=in_mask, rec_mask=rec_mask, mask=mask,
                        go_backwards=self.go_backwards,
                        zero_output_for_mask=self.zero_output_for_mask,
                        return_sequences=self.return_sequences)  # fmt: skip

            def fused_or_scan():
                fused = try_fused_rnn(kind, self.cell, cell_params, x, init, **opts)
                return fused or self._scan(cell_params, x, init, masks, mask, None)[:3]

            if kind == "lstm" and self.use_cudnn is not False:
                fast = try_cudnn_lstm(self.cell, cell_params, x, init, unroll=self.unroll,
                                      fallback=fused_or_scan, **opts)  # fmt: skip
            if fast is None:
                fast = try_fused_rnn(kind, self.cell, cell_params, x, init, **opts)
        if fast is not None:
            last, outputs, final = fast
        else:
            scan = partial(self._scan, cell_params, x, init, masks, mask, record)
            traced = None
            no_dropout = masks is None or all(m is None for m in masks)
            native_trace = {"lstm": try_native_trace, "gru": try_native_gru_trace}.get(kind)
            if record is not None and native_trace and no_dropout:  # the kernel the call runs
                zero = self.zero_output_for_mask
                traced = native_trace(self.cell, cell_params, x, init, mask=mask,
                                      go_backwards=self.go_backwards, fallback=scan,
                                      zero_output_for_mask=zero)  # fmt: skip
            last, outputs, final, *extras = traced or scan()
            if record is not None:
                record[id(self)] = self._name_steps(outputs, *extras)
        out = outputs if self.return_sequences else last
        # A stateful layer keeps the float32 cell state it carried; the returned one is in the
        # compute dtype, as Keras returns it.
        new_state = {**state, "states": final} if "states" in state else state
        if self.return_state:
            return [out, *carried_states(self.cell, final, carry=False)], new_state
        return out, new_state

    def _scan(self, cell_params, x, init, masks, mask, record) -> tuple:
        """The reference scan over the cell's step (with the glass box's extras if `record`)."""
        return rnn_scan(
            lambda x_t, s: self.cell.step(cell_params, x_t, s, masks),
            x,
            init,
            mask=mask,
            go_backwards=self.go_backwards,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences or record is not None,
            return_extras=record is not None,
        )

    def _name_steps(self, outputs: jax.Array, extras: tuple) -> list[dict[str, jax.Array]]:
        """The scan's per-step extras by quantity, one dict per cell (stacked cells in order);
        states as carried, and the top cell's hidden_state exactly the sequence output."""
        gates, states = extras
        stacked = isinstance(self.cell, StackedRNNCells)
        cells = self.cell.cells if stacked else [self.cell]
        gates, states = (gates, states) if stacked else ([gates], [states])
        named = [{**g, **dict(zip(c.state_names, s))} for c, g, s in zip(cells, gates, states)]
        named[-1]["hidden_state"] = outputs
        return named

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
        if self.cell_class is not None:  # LSTM, GRU, SimpleRNN: the cell's arguments are theirs
            cell_config = self.cell.get_config()
            for k in ("name", "trainable", "dtype"):
                cell_config.pop(k)
            config.update(cell_config)
        return config

    def __getattr__(self, name: str) -> Any:
        # LSTM, GRU, SimpleRNN: cell arguments read as layer attributes (layer.units), as in Keras.
        missing = f"'{type(self).__name__}' object has no attribute '{name}'"
        if isinstance(getattr(type(self), name, None), property):
            return getattr(type(self), name).fget(self)  # its own error (layer.output)
        if type(self).cell_class is None or name in ("cell", "_sublayers") or name[:2] == "__":
            raise AttributeError(missing)
        try:
            return getattr(self.cell, name)
        except AttributeError:
            raise AttributeError(missing) from None  # the layer the user asked, never its cell


_RNN_ARGS = (
    "return_sequences", "return_state", "go_backwards", "stateful", "unroll",
    "zero_output_for_mask", "name", "trainable", "dtype", "input_shape", "batch_input_shape",
    "batch_size", "input_dim", "input_length", "time_major", "use_cudnn", "weights",
    "activity_regularizer",
)  # fmt: skip


def own_cell(layer: RNN, units: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """For LSTM, GRU and SimpleRNN: the cell built from the layer's own arguments, and the
    arguments left for RNN."""
    kwargs = legacy.rename_arguments(type(layer).__name__, "recurrent", kwargs)
    renamed_units = kwargs.pop("units", None)  # from Keras 1's output_dim
    units = renamed_units if units is None else units
    rnn_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _RNN_ARGS}
    # The cell checks the arguments; built under this layer's name, its errors name the
    # layer the user made ('encoder', 'lstm_1'), not 'lstm_cell'. Renamed once it exists.
    name = rnn_kwargs.get("name") or peek_name(to_snake_case(type(layer).__name__))
    cell = layer.cell_class(
        units,
        name=name,
        dtype=rnn_kwargs.get("dtype"),
        trainable=rnn_kwargs.get("trainable", True),
        **kwargs,
    )
    cell.name = to_snake_case(layer.cell_class.__name__)  # lstm_cell, gru_cell, simple_rnn_cell
    return cell, rnn_kwargs


class LSTM(RNN):
    """Long short-term memory layer (Keras 3 arguments, defaults and weight layout)."""

    cell_class = LSTMCell

    def __init__(self, units: int | None = None, **kwargs: Any):
        cell, rnn_kwargs = own_cell(self, units, kwargs)
        super().__init__(cell, **rnn_kwargs)


class GRU(RNN):
    """Gated recurrent unit layer; `reset_after=True` by default, as in Keras 3."""

    cell_class = GRUCell

    def __init__(self, units: int | None = None, **kwargs: Any):
        cell, rnn_kwargs = own_cell(self, units, kwargs)
        super().__init__(cell, **rnn_kwargs)


class SimpleRNN(RNN):
    """Fully connected RNN: h = activation(x W + h U + b)."""

    cell_class = SimpleRNNCell

    def __init__(self, units: int | None = None, **kwargs: Any):
        cell, rnn_kwargs = own_cell(self, units, kwargs)
        super().__init__(cell, **rnn_kwargs)
