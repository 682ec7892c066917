"""Glass box: every gate and state of a recurrent layer at every time step, in one call.

`trace(layer_or_model, x)` runs the same step equations as the layer (ops/recurrent.py) but keeps
all intermediate quantities. For an LSTM: input gate i, forget gate f, candidate c_tilde, output
gate o, cell state c and hidden state h, each shaped (batch, time, units). GRU: z, r, h_tilde, h.
SimpleRNN: h. Time runs in processing order (reversed for go_backwards, like the layer's output).
At masked steps the gates are reported as computed and the states are carried, as the layer does.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from lstmkit.kernels import recurrent as rec
from lstmkit.layers.base import to_arrays
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from lstmkit.layers.recurrent import RNN
from lstmkit.layers.wrappers import Bidirectional


def _gates_fn(cell: Any, params: dict):
    """(x_proj_t, states) -> (dict of quantities, new states) for one cell kind."""
    u = params["recurrent_kernel"]
    if isinstance(cell, LSTMCell):

        def fn(x_t, states):
            g = rec.lstm_gates(x_t, *states, u, cell.activation, cell.recurrent_activation)
            return g, [g["h"], g["c"]]

    elif isinstance(cell, GRUCell):
        b = params.get("bias")
        rec_bias = b[1] if b is not None and cell.reset_after else None

        def fn(x_t, states):
            g = rec.gru_gates(
                x_t,
                states[0],
                u,
                rec_bias,
                cell.activation,
                cell.recurrent_activation,
                cell.reset_after,
            )
            return g, [g["h"]]

    elif isinstance(cell, SimpleRNNCell):

        def fn(x_t, states):
            h, _ = rec.simple_step(x_t, states, u, cell.activation)
            return {"h": h}, [h]

    else:
        raise ValueError(
            f"trace: cells of type {type(cell).__name__} are not supported; trace LSTM, GRU "
            "and SimpleRNN layers (or RNN over one such cell)."
        )
    return fn


def trace_layer(
    layer: RNN,
    x: Any,
    *,
    mask: Any = None,
    initial_state: Any = None,
    params: dict | None = None,
    state: dict | None = None,
) -> dict[str, np.ndarray]:
    """Every internal quantity of `layer` on inputs x (batch, time, features)."""
    if isinstance(layer, Bidirectional):
        raise ValueError("trace: trace a Bidirectional's forward_layer and backward_layer.")
    if not isinstance(layer, RNN):
        raise ValueError(f"trace: expected a recurrent layer, got {type(layer).__name__}.")
    x = to_arrays(x)
    layer.maybe_build(tuple(x.shape))
    params = layer.params if params is None else params
    state = layer.state if state is None else state
    cell, cell_params = layer.cell, params["cell"]
    step = _gates_fn(cell, cell_params)
    init = layer._initial_state(state, x.shape[0], initial_state, x.dtype)
    xs = jnp.swapaxes(cell.project_all(cell_params, x, None), 0, 1)  # (time, batch, gates*units)
    m = jnp.ones(x.shape[:2], bool) if mask is None else jnp.asarray(mask, bool)
    m = jnp.swapaxes(m, 0, 1)[:, :, None]  # (time, batch, 1)
    if layer.go_backwards:
        xs, m = jnp.flip(xs, 0), jnp.flip(m, 0)

    def body(states, inp):
        x_t, m_t = inp
        g, new = step(x_t, states)
        new = [jnp.where(m_t, n, s) for n, s in zip(new, states)]
        # The reported states are what the layer carries (unchanged at masked steps).
        g = {**g, "h": new[0], **({"c": new[1]} if len(new) > 1 else {})}
        return new, g

    _, out = lax.scan(body, list(init), (xs, m))
    return {k: np.asarray(jnp.swapaxes(v, 0, 1)) for k, v in out.items()}


def trace(
    target: Any, x: Any, *, layer: str | None = None, mask: Any = None, initial_state: Any = None
) -> dict:
    """Trace a recurrent layer, or every recurrent layer of a model (by name; `layer=` picks one).

    For a model, each layer sees exactly the inputs and masks it gets when the model runs.
    """
    if isinstance(target, RNN):
        return trace_layer(target, x, mask=mask, initial_state=initial_state)
    if not hasattr(target, "apply") or not hasattr(target, "_nodes"):
        raise ValueError(f"trace: expected a recurrent layer or a model, got {target!r}.")
    seen: dict[str, tuple] = {}
    inputs = to_arrays(x)
    if hasattr(target, "build_from_data") and not target._graph_ready:
        target.build_from_data(inputs)
    target.run(target.params, target.state, inputs, mask=mask, record=seen)
    names = [n for n, (lay, *_rest) in seen.items() if isinstance(lay, RNN)]
    if layer is not None:
        if layer not in names:
            raise ValueError(f"trace: no recurrent layer named {layer!r}; the model has {names}.")
        names = [layer]
    out = {}
    for name in names:
        lay, x_in, m_in, kw = seen[name]
        out[name] = trace_layer(lay, x_in, mask=m_in, initial_state=kw.get("initial_state"))
    return out[layer] if layer is not None else out


__all__ = ["trace", "trace_layer"]
