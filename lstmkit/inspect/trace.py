"""Glass box: every gate and state of every recurrent layer at every time step, in one call.

`trace(model_or_layer, x)` runs the model (or layer) once, jitted, through each layer's own scan,
which hands back its per-step quantities while it runs (`layers.recurrent.record_steps`); an LSTM
that runs on the native CPU kernel (kernels/native) is traced through that kernel, which keeps its
gates and states for the purpose, so the trace is of the very arithmetic the layer does. Names:
LSTM `input_gate`, `forget_gate`, `candidate`, `output_gate`, `cell_state`, `hidden_state`;
GRU `update_gate`, `reset_gate`, `candidate`, `hidden_state`; SimpleRNN `hidden_state`; each
(batch, time, units).

Keys: the layer's name; `name/forward` and `name/backward` for a Bidirectional layer;
`name/<cell name>` for each cell of stacked cells (`RNN([LSTMCell(8), GRUCell(4)])`).
Time runs as in the layer's output: processing order (reversed for go_backwards), except for a
Bidirectional's backward half, which is put back in input order as Bidirectional does.
At a masked step the states are carried and the gates are reported as computed; `hidden_state`
is exactly what the layer returns with `return_sequences=True`. Stateful layers start from their
carried states, and a trace does not advance them.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from lstmkit.kernels import precision
from lstmkit.layers.base import Layer, to_arrays
from lstmkit.layers.recurrent import RNN, record_steps
from lstmkit.layers.wrappers import Bidirectional

# The order a reader expects (jit hands dicts back sorted by key).
ORDER = ("input_gate", "update_gate", "forget_gate", "reset_gate", "candidate", "output_gate",
         "cell_state", "hidden_state")  # fmt: skip


def recurrent_layers(target: Layer, prefix: str = "") -> list[tuple[str, RNN, bool]]:
    """Every recurrent layer inside `target`: (trace key, layer, flip time back to input order)."""
    if isinstance(target, RNN):
        return [(prefix + target.name, target, False)]
    if isinstance(target, Bidirectional):
        name = prefix + target.name
        return [
            (f"{name}/forward", target.forward_layer, False),
            (f"{name}/backward", target.backward_layer, target.return_sequences),
        ]
    found = []
    for sub in getattr(target, "_sublayers", {}).values():
        found += recurrent_layers(sub, prefix)
    return found


def trace(
    target: Layer,
    x: Any,
    *,
    mask: Any = None,
    initial_state: Any = None,
    layer: str | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """{layer name: {quantity: (batch, time, units) array}} for every recurrent layer of a model,
    or for one recurrent or Bidirectional layer; `layer=` keeps one layer's entries."""
    if not isinstance(target, Layer):
        raise ValueError(f"trace: expected a model or a recurrent layer, got {target!r}.")
    inputs = to_arrays(x)
    mask = None if mask is None else to_arrays(mask)
    if not getattr(target, "_graph_ready", True) and hasattr(target, "build_from_data"):
        target.build_from_data(inputs)  # a Sequential without an Input learns its shape here
    elif not target.built:
        target.maybe_build(tuple(inputs.shape))
    found = recurrent_layers(target)
    if not found:
        raise ValueError(f"trace: '{target.name}' has no recurrent layer (LSTM, GRU, SimpleRNN).")
    names = sorted({key.split("/")[0] for key, _, _ in found})
    if layer is not None and layer not in names:
        raise ValueError(f"trace: no recurrent layer named {layer!r}; the model has {names}.")
    extra = {} if initial_state is None else {"initial_state": to_arrays(initial_state)}

    @precision.jit
    def run(params, state, inputs, mask, extra):
        with record_steps() as record:
            target.apply(params, state, inputs, mask=mask, **extra)
        return record

    record = run(target.params, target.state, inputs, mask, extra)
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, rnn, flip in found:
        if layer is not None and key.split("/")[0] != layer:
            continue
        if id(rnn) not in record:
            continue  # a layer the outputs do not depend on
        cells = getattr(rnn.cell, "cells", None)  # stacked cells: one entry each
        entries = [f"{key}/{c.name}" for c in cells] if cells else [key]
        for name, quantities in zip(entries, record[id(rnn)]):
            ordered = sorted(quantities, key=lambda q: ORDER.index(q) if q in ORDER else 99)
            out[name] = {q: np.asarray(jnp.flip(quantities[q], 1) if flip else quantities[q])
                         for q in ordered}  # fmt: skip
    return out


__all__ = ["recurrent_layers", "trace"]
