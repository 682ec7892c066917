"""LSTM, GRU and SimpleRNN as ONNX's native `LSTM`, `GRU` and `RNN` operators.

Weights (Keras layout -> ONNX, per direction):
- LSTM: Keras orders the gate blocks i, f, c, o, ONNX i, o, f, c; `W = kernel.T`,
  `R = recurrent_kernel.T` with the blocks permuted, `B = [bias, zeros]` (Keras has one bias).
- GRU: both order z, r, h. `reset_after=True` (Keras 3's default) is ONNX's
  `linear_before_reset=1`, its (2, 3u) bias the two ONNX biases `[Wb, Rb]`; `reset_after=False`
  is `linear_before_reset=0` with `B = [bias, zeros]`.
- SimpleRNN: `RNN` with `W = kernel.T`, `R = recurrent_kernel.T`.
Activations go into the operator's `activations` attribute (recurrent_activation is ONNX's f,
activation its g and h); their alphas and betas are listed only for the functions that take them,
in order (ONNX Runtime's reading of `activation_alpha`).

Masks, any pattern, exactly: Keras carries the states unchanged over a masked step and repeats
the previous output there. So the unmasked steps of each row are moved to the front (a stable
TopK on (masked, t)), the operator runs with `sequence_lens` = their number, and the outputs are
gathered back to their time steps, a masked step taking the output of the step processed before
it (or the initial state, or zeros with `zero_output_for_mask`). Right-padded rows, the common
case, are unchanged by the moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmkit.export.onnx_graph import ExportError, Graph
from lstmkit.kernels import activations as A
from lstmkit.layers.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells

OP_OF = {LSTMCell: "LSTM", GRUCell: "GRU", SimpleRNNCell: "RNN"}
LSTM_BLOCKS = [0, 3, 1, 2]  # ONNX's i, o, f, c from Keras's i, f, c, o

# Keras activation -> (ONNX activation, alpha, beta); None: the function takes no such value.
RNN_ACTIVATIONS = {
    A.tanh: ("Tanh", None, None),
    A.sigmoid: ("Sigmoid", None, None),
    A.hard_sigmoid: ("HardSigmoid", 1.0 / 6.0, 0.5),  # Keras 3: relu6(x + 3) / 6
    A.hard_sigmoid_legacy: ("HardSigmoid", 0.2, 0.5),  # Keras 1/2
    A.relu: ("Relu", None, None),
    A.linear: ("Affine", 1.0, 0.0),
    A.leaky_relu: ("LeakyRelu", 0.2, None),
    A.elu: ("Elu", 1.0, None),
    A.softsign: ("Softsign", None, None),
    A.softplus: ("Softplus", None, None),
}


@dataclass
class Direction:
    """One direction of one operator: the layer whose weights it runs, and whether it reads the
    sequence backwards (ONNX "reverse")."""

    layer: Any  # an RNN layer (LSTM, GRU, SimpleRNN, or RNN over one of their cells)
    reverse: bool
    initial: list[str] | None = None  # (batch, units) values: [h] or [h, c]; None: zeros


@dataclass
class DirectionOut:
    """What one direction gives back: the output sequence in *input* time order (masked steps
    filled as Keras fills them), the last output, and the final states, each (batch, ...)."""

    sequence: str | None
    last: str
    states: list[str]


def check_recurrent(layer: Any, where: str) -> None:
    """Refuse what the native operators cannot express, naming the layer and why."""
    cell = layer.cell
    if isinstance(cell, StackedRNNCells):
        raise ExportError(
            f"to_onnx: layer '{where}' runs a list of cells inside Bidirectional; export a "
            "Bidirectional over LSTM, GRU or SimpleRNN (or stack Bidirectional layers)."
        )
    if type(cell) not in OP_OF:
        raise ExportError(
            f"to_onnx: layer '{where}' runs a {type(cell).__name__}; only LSTMCell, GRUCell and "
            "SimpleRNNCell (alone or in a list) map to ONNX's LSTM/GRU/RNN operators."
        )
    names = [("activation", cell.activation)]
    if not isinstance(cell, SimpleRNNCell):
        names.append(("recurrent_activation", cell.recurrent_activation))
    for arg, fn in names:
        if fn not in RNN_ACTIVATIONS:
            raise ExportError(
                f"to_onnx: layer '{where}' has {arg}={A.serialize(fn)!r}, which ONNX's recurrent "
                f"operators cannot compute; supported: "
                f"{sorted(A.serialize(f) for f in RNN_ACTIVATIONS)}."
            )


def _weights(layer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX's W (G*u, in), R (G*u, u) and B (2*G*u) of one direction."""
    cell = layer.cell
    p = {k: np.asarray(v, np.float32) for k, v in layer.params["cell"].items()}
    kernel, recurrent = p["kernel"].T, p["recurrent_kernel"].T  # (G*u, in), (G*u, u)
    gates = kernel.shape[0] // cell.units
    bias = p.get("bias", np.zeros((gates * cell.units,), np.float32))
    if bias.ndim == 2:  # GRU reset_after: [input bias, recurrent bias]
        w_b, r_b = bias[0], bias[1]
    else:
        w_b, r_b = bias, np.zeros_like(bias)
    if isinstance(cell, LSTMCell):
        blocks = lambda a: np.concatenate([np.split(a, 4)[i] for i in LSTM_BLOCKS])  # noqa: E731
        kernel, recurrent, w_b, r_b = blocks(kernel), blocks(recurrent), blocks(w_b), blocks(r_b)
    return kernel, recurrent, np.concatenate([w_b, r_b])


def _activations(layer: Any) -> list[tuple]:
    cell = layer.cell
    if isinstance(cell, LSTMCell):  # f (gates), g (candidate), h (cell output)
        fns = [cell.recurrent_activation, cell.activation, cell.activation]
    elif isinstance(cell, GRUCell):  # f (gates), g (candidate)
        fns = [cell.recurrent_activation, cell.activation]
    else:
        fns = [cell.activation]
    return [RNN_ACTIVATIONS[f] for f in fns]


def same_operator(a: Any, b: Any) -> bool:
    """Whether two layers can share one bidirectional operator."""
    ca, cb = a.cell, b.cell
    return (
        type(ca) is type(cb)
        and ca.units == cb.units
        and getattr(ca, "reset_after", None) == getattr(cb, "reset_after", None)
    )


class MaskPlan:
    """A mask (batch, time) turned into what the operator needs: the unmasked steps moved to
    the front, their count, and the indices that put the outputs back in place."""

    def __init__(self, g: Graph, mask: str):
        self.g = g
        self.m = g.op("Cast", [mask], to=g.onnx.TensorProto.INT64)  # (batch, time)
        self.count = g.reduce("ReduceSum", self.m, [1], keepdims=False)  # (batch,)
        self.lengths = g.op("Cast", [self.count], to=g.onnx.TensorProto.INT32)
        self.time = g.op("Gather", [g.op("Shape", [mask]), g.const(np.int64(1))])  # scalar
        steps = g.op("Range", [g.const(np.int64(0)), self.time, g.const(np.int64(1))])  # (time,)
        # Unmasked steps first, each group in time order: key = (1 - m) * time + t.
        masked = g.op("Sub", [g.const(np.int64(1)), self.m])
        key = g.op("Add", [g.op("Mul", [masked, self.time]), steps])  # (batch, time)
        k = g.op("Reshape", [self.time, g.ints(1)])
        self.order = g.op("TopK", [key, k], n_out=2, axis=1, largest=0, sorted=1)[1]
        self.cumsum = g.op("CumSum", [self.m, g.const(np.int64(1))])  # (batch, time)
        self.last_index = g.op("Sub", [self.time, g.const(np.int64(1))])

    def gather_time(self, x: str, index: str) -> str:
        """x (batch, time, n)[b, index[b, t], :] -> (batch, time, n)."""
        g = self.g
        idx = g.op("Expand", [g.op("Unsqueeze", [index, g.ints(2)]), g.op("Shape", [x])])
        return g.op("GatherElements", [x, idx], axis=1)

    def compact(self, x: str) -> str:
        return self.gather_time(x, self.order)

    def restore(self, y: str, reverse: bool, fallback: str, zero_masked: bool) -> str:
        """Outputs back at their time steps (see the module docstring); `fallback` (batch, 1, u)
        or a scalar stands for the output before the first processed step."""
        g = self.g
        if reverse:  # the step processed before a masked one is the next unmasked one
            index = g.op("Sub", [self.cumsum, self.m])
            valid = g.op("Less", [index, g.op("Unsqueeze", [self.count, g.ints(1)])])
        else:
            index = g.op("Sub", [self.cumsum, g.const(np.int64(1))])
            valid = g.op("GreaterOrEqual", [index, g.const(np.int64(0))])
        if zero_masked:
            valid = g.op("And", [valid, g.op("Cast", [self.m], to=g.onnx.TensorProto.BOOL)])
        index = g.op("Max", [g.op("Min", [index, self.last_index]), g.const(np.int64(0))])
        gathered = self.gather_time(y, index)
        valid = g.op("Unsqueeze", [valid, g.ints(2)])  # (batch, time, 1)
        return g.op("Where", [valid, gathered, fallback])

    def at_step(self, step: int) -> str:
        """(batch, 1) booleans: is time step `step` (0 or -1) unmasked."""
        g = self.g
        m = g.op("Gather", [self.m, g.const(np.int64(step))], axis=1)
        return g.op("Cast", [g.op("Unsqueeze", [m, g.ints(1)])], to=g.onnx.TensorProto.BOOL)


def run_operator(
    g: Graph, dirs: list[Direction], x: str, mask: MaskPlan | None, want_sequence: bool
) -> list[DirectionOut]:
    """One ONNX LSTM/GRU/RNN over x (batch, time, features), one or two directions."""
    first = dirs[0].layer
    cell = first.cell
    op_type = OP_OF[type(cell)]
    ws, rs, bs = zip(*(_weights(d.layer) for d in dirs))
    hint = first.name
    w = g.const(np.stack(ws), f"{hint}.W")  # (dirs, G*u, in)
    r = g.const(np.stack(rs), f"{hint}.R")  # (dirs, G*u, u)
    b = g.const(np.stack(bs), f"{hint}.B") if any(np.any(v) for v in bs) else ""
    acts = [a for d in dirs for a in _activations(d.layer)]
    attrs: dict[str, Any] = {"hidden_size": cell.units, "activations": [a[0] for a in acts]}
    alphas = [a[1] for a in acts if a[1] is not None]
    betas = [a[2] for a in acts if a[2] is not None]
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    if len(dirs) == 2:
        attrs["direction"] = "bidirectional"
    elif dirs[0].reverse:
        attrs["direction"] = "reverse"
    if isinstance(cell, GRUCell):
        attrs["linear_before_reset"] = int(cell.reset_after)
    xs = mask.compact(x) if mask is not None else x
    inputs = [g.op("Transpose", [xs], perm=[1, 0, 2]), w, r, b]  # X: (time, batch, in)
    inputs.append(mask.lengths if mask is not None else "")
    n_states = 2 if isinstance(cell, LSTMCell) else 1
    given = [d.initial for d in dirs]
    if any(s is not None for s in given):
        for k in range(n_states):  # initial_h, initial_c: (dirs, batch, u)
            per_dir = [g.op("Unsqueeze", [s[k], g.ints(0)]) for s in given]
            inputs.append(per_dir[0] if len(per_dir) == 1 else g.op("Concat", per_dir, axis=0))
    while inputs[-1] == "":
        inputs.pop()
    n_out = 1 + 1 + (n_states == 2)
    outs = g.op(op_type, inputs, n_out=n_out, hint=hint, **attrs)
    if not want_sequence:
        g.nodes[-1].output[0] = ""  # Y not asked for: the runtime need not write it
    y, finals = outs[0], outs[1:]  # Y (time, dirs, batch, u); Y_h, Y_c (dirs, batch, u)
    y = g.op("Transpose", [y], perm=[1, 2, 0, 3]) if want_sequence else None  # (dirs, b, t, u)
    results = []
    for i, d in enumerate(dirs):
        index = g.const(np.int64(i))
        states = [g.op("Gather", [s, index], axis=0) for s in finals]  # (batch, u) each
        # (batch, time, u), input time order
        seq = g.op("Gather", [y, index], axis=0) if want_sequence else None
        last = states[0]
        zero = d.layer.zero_output_for_mask
        if mask is not None:
            fallback = (g.op("Unsqueeze", [d.initial[0], g.ints(1)]) if d.initial is not None
                        else g.const(np.float32(0)))  # fmt: skip
            if seq is not None:
                seq = mask.restore(seq, d.reverse, fallback, zero)
            if zero:  # the last output is zero when the last step processed is masked
                last = g.op("Where", [mask.at_step(0 if d.reverse else -1), last,
                                      g.const(np.float32(0))])  # fmt: skip
        results.append(DirectionOut(seq, last, states))
    return results


# ----- the layers ---------------------------------------------------------------------------------
def _flip_if(g: Graph, seq: str | None, flip: bool) -> str | None:
    return g.flip_time(seq) if seq is not None and flip else seq


@dataclass
class CellLayer:
    """One cell of an `RNN` over a list of cells (StackedRNNCells), seen as a layer of its own:
    the stack runs cell after cell over the whole sequence, each skipping the same masked steps,
    which is what Keras's stacked step computes."""

    name: str
    cell: Any
    params: dict
    go_backwards: bool
    zero_output_for_mask: bool


def _cell_layers(layer: Any) -> list:
    if not isinstance(layer.cell, StackedRNNCells):
        return [layer]
    return [
        CellLayer(
            f"{layer.name}_cell_{k}",
            cell,
            {"cell": layer.params["cell"][f"cell_{k}"]},
            layer.go_backwards,
            layer.zero_output_for_mask,
        )  # fmt: skip
        for k, cell in enumerate(layer.cell.cells)
    ]


def emit_rnn(ctx: Any, layer: Any, x: str, mask: str | None, initial: list[str] | None) -> list:
    """An LSTM/GRU/SimpleRNN layer -> [output, *final states] as (name, mask) pairs.
    With go_backwards Keras returns the sequence in processing order: reversed."""
    g = ctx.g
    parts = _cell_layers(layer)
    plan = ctx.mask_plan(mask)
    states: list[str] = []
    for k, part in enumerate(parts):
        check_recurrent(part, layer.name)
        n = len(part.cell.state_size)
        given = None if initial is None else list(initial[len(states) : len(states) + n])
        top = k == len(parts) - 1
        want_sequence = layer.return_sequences or not top
        direction = Direction(part, layer.go_backwards, ctx.initial_states(part, given))
        (out,) = run_operator(g, [direction], x, plan, want_sequence)
        ctx.final_states(part, out.states)
        states += out.states
        x = out.sequence  # the next cell's input, in input time order
    y = _flip_if(g, out.sequence, layer.go_backwards) if layer.return_sequences else out.last
    result = [(y, mask if layer.return_sequences else None)]
    return result + [(s, None) for s in states] if layer.return_state else result


def emit_bidirectional(ctx: Any, layer: Any, x: str, mask: str | None,
                       initial: list[str] | None) -> list:  # fmt: skip
    """Bidirectional: one bidirectional operator when the halves allow it, else one operator per
    half; the backward half's sequence back in input order, then the merge."""
    g = ctx.g
    fwd, bwd = layer.forward_layer, layer.backward_layer
    for half in (fwd, bwd):
        check_recurrent(half, f"{layer.name}/{half.name}")
    n = len(fwd.cell.state_size)
    given = [None, None] if initial is None else [list(initial[:n]), list(initial[n:])]
    dirs = [
        Direction(half, half.go_backwards, ctx.initial_states(half, s))
        for half, s in zip((fwd, bwd), given)
    ]
    plan = ctx.mask_plan(mask)
    seq = layer.return_sequences
    if not fwd.go_backwards and same_operator(fwd, bwd):
        outs = run_operator(g, dirs, x, plan, seq)
    else:
        outs = [run_operator(g, [d], x, plan, seq)[0] for d in dirs]
    for half, out in zip((fwd, bwd), outs):
        ctx.final_states(half, out.states)
    if seq:  # each half's Keras output; the backward one flipped back to input order
        y_f = _flip_if(g, outs[0].sequence, fwd.go_backwards)
        y_b = _flip_if(g, outs[1].sequence, not bwd.go_backwards)
    else:
        y_f, y_b = outs[0].last, outs[1].last
    if layer.merge_mode == "concat":
        merged = [g.op("Concat", [y_f, y_b], axis=-1)]
    elif layer.merge_mode == "sum":
        merged = [g.op("Add", [y_f, y_b])]
    elif layer.merge_mode == "mul":
        merged = [g.op("Mul", [y_f, y_b])]
    elif layer.merge_mode == "ave":
        merged = [g.op("Mul", [g.op("Add", [y_f, y_b]), g.const(np.float32(0.5))])]
    else:
        merged = [y_f, y_b]
    out_mask = mask if seq else None
    result = [(m, out_mask) for m in merged]
    if layer.return_state:
        result += [(s, None) for out in outs for s in out.states]
    return result
