"""Bidirectional and TimeDistributed: layers that run another layer in a new way."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.layers.base import Layer, is_shape
from lstmkit.layers.cells import StackedRNNCells
from lstmkit.layers.recurrent import RNN

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def clone_layer(layer: Layer, **overrides: Any) -> Layer:
    """A fresh, unbuilt layer with the same configuration (and the overrides)."""
    config = {**layer.get_config(), **overrides}
    if "dtype" in config:  # get_config names the weights' dtype: "float32" for mixed_bfloat16
        config["dtype"] = layer.dtype_policy
    if isinstance(layer, StackedRNNCells):
        return StackedRNNCells([clone_layer(c) for c in layer.cells], **config)
    if type(layer) is RNN:
        return RNN(clone_layer(layer.cell), **config)
    return type(layer)(**config)


class Bidirectional(Layer):
    """Runs an RNN forwards and a copy of it backwards, and merges the two outputs."""

    supports_masking = True

    def __init__(
        self,
        layer: RNN,
        merge_mode: str | None = "concat",
        weights: Any = None,
        backward_layer: RNN | None = None,
        **kwargs: Any,
    ):
        if not isinstance(layer, RNN):
            raise ValueError(
                f"Bidirectional: `layer` must be a recurrent layer (LSTM, GRU, SimpleRNN, RNN), "
                f"got {layer!r}."
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Bidirectional: `merge_mode` must be one of {MERGE_MODES}, got {merge_mode!r}."
            )
        super().__init__(**kwargs)
        fwd = clone_layer(layer, name=f"forward_{layer.name}")
        if backward_layer is None:
            bwd = clone_layer(
                layer, name=f"backward_{layer.name}", go_backwards=not layer.go_backwards
            )
        else:
            bwd = backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError(
                f"Bidirectional '{self.name}': the forward and backward layers must differ in "
                f"`go_backwards`; both have go_backwards={fwd.go_backwards}."
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr) != getattr(bwd, attr):
                raise ValueError(
                    f"Bidirectional '{self.name}': forward and backward layers must agree on "
                    f"`{attr}`; got {getattr(fwd, attr)} and {getattr(bwd, attr)}."
                )
        for sub in (fwd, bwd):  # Keras forces zeros at masked steps when returning sequences
            sub.zero_output_for_mask = sub.return_sequences
        self.forward_layer = self.track("forward_layer", fwd)
        self.backward_layer = self.track("backward_layer", bwd)
        self.merge_mode = merge_mode
        self.return_sequences = fwd.return_sequences
        self.return_state = fwd.return_state
        self.stateful = fwd.stateful
        self._batch_input_shape = layer._batch_input_shape
        self._wrapped_config = layer.get_config()
        self._wrapped_class = type(layer).__name__

    def check_input(self, shape: Any) -> None:
        self.forward_layer.check_input(shape)

    def build(self, input_shape: Any) -> None:
        self.forward_layer.maybe_build(input_shape)
        self.backward_layer.maybe_build(input_shape)

    def compute_output_shape(self, input_shape: Any, initial_state: Any = None) -> Any:
        fwd = self.forward_layer.compute_output_shape(input_shape)
        bwd = self.backward_layer.compute_output_shape(input_shape)
        out_f, states_f = (fwd[0], fwd[1:]) if self.return_state else (fwd, [])
        out_b, states_b = (bwd[0], bwd[1:]) if self.return_state else (bwd, [])
        if self.merge_mode == "concat":
            out = [(*out_f[:-1], out_f[-1] + out_b[-1])]
        elif self.merge_mode is None:
            out = [out_f, out_b]
        else:
            out = [out_f]
        if len(out) == 1 and not self.return_state:
            return out[0]
        return [*out, *states_f, *states_b]

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        out = mask if self.return_sequences else None
        n_out = 2 if self.merge_mode is None else 1
        if not self.return_state:
            return out if n_out == 1 else [out, out]
        n_states = 2 * len(jax.tree_util.tree_leaves(self.forward_layer.cell.state_size))
        return [out] * n_out + [None] * n_states

    def reset_state(self, states: Any = None) -> None:
        if states is None:
            self.forward_layer.reset_state()
            self.backward_layer.reset_state()
        else:
            half = len(states) // 2
            self.forward_layer.reset_state(states[:half])
            self.backward_layer.reset_state(states[half:])

    reset_states = reset_state

    def apply(self, params, state, inputs, *, training=False, mask=None, key=None,
              initial_state=None):  # fmt: skip
        f_init = b_init = None
        if initial_state is not None:
            expected = 2 * len(self.forward_layer.cell.state_size)
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != expected:
                given = len(initial_state) if isinstance(initial_state, (list, tuple)) else 1
                raise ValueError(
                    f"Layer '{self.name}' expects {expected} initial state tensor(s), the "
                    f"forward layer's {expected // 2} then the backward layer's; got {given}."
                )
            half = len(initial_state) // 2
            f_init, b_init = list(initial_state[:half]), list(initial_state[half:])
        k_f = k_b = None
        if key is not None:
            k_f, k_b = jax.random.split(key)
        y, s_f = self.forward_layer.apply(
            params["forward_layer"], state["forward_layer"], inputs, training=training,
            mask=mask, key=k_f, initial_state=f_init,
        )  # fmt: skip
        y_rev, s_b = self.backward_layer.apply(
            params["backward_layer"], state["backward_layer"], inputs, training=training,
            mask=mask, key=k_b, initial_state=b_init,
        )  # fmt: skip
        states = []
        if self.return_state:
            states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)  # back to input time order
        if self.merge_mode == "concat":
            out = [jnp.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            out = [y + y_rev]
        elif self.merge_mode == "ave":
            out = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            out = [y * y_rev]
        else:
            out = [y, y_rev]
        new_state = {"forward_layer": s_f, "backward_layer": s_b}
        if len(out) == 1 and not self.return_state:
            return out[0], new_state
        return [*out, *states], new_state

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "merge_mode": self.merge_mode,
            "layer": {"class_name": self._wrapped_class, "config": self._wrapped_config},
        }


class TimeDistributed(Layer):
    """Applies a layer to every time step: (batch, time, ...) -> (batch, time, ...)."""

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: `layer` must be an lstmkit layer, got {layer!r}.")
        super().__init__(**kwargs)
        self.layer = self.track("layer", layer)
        self._batch_input_shape = self._batch_input_shape or layer._batch_input_shape

    def check_input(self, shape: Any) -> None:
        if not is_shape(shape) or len(shape) < 3:
            raise ValueError(
                f"Layer '{self.name}' (TimeDistributed) expects inputs of rank >= 3 "
                f"(batch, time, ...), got shape {shape}."
            )

    def build(self, input_shape: Any) -> None:
        self.check_input(input_shape)
        self.layer.maybe_build((input_shape[0], *input_shape[2:]))

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        inner = self.layer.compute_output_shape((input_shape[0], *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def apply(self, params, state, inputs, *, training=False, mask=None, key=None):
        batch, time = inputs.shape[:2]
        flat = inputs.reshape((batch * time, *inputs.shape[2:]))  # (batch*time, ...)
        y, new_state = self.layer.apply(
            params["layer"], state["layer"], flat, training=training, key=key
        )
        return y.reshape((batch, time, *y.shape[1:])), {"layer": new_state}

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()},
        }
