"""The merging layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and
so their functional forms `add([a, b])`), RepeatVector and Permute as ONNX nodes.

Masks as lstmkit (and Keras) apply them: a mask has one axis fewer than its value and is
broadcast over the last axis; Multiply counts a masked entry as 1, Maximum/Minimum let the other
operand win there, and the output mask is the OR of the inputs' masks when every input has one
(Concatenate: the masks spread over the inputs, joined, then any over the last axis). Dot,
RepeatVector and Permute drop the mask.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from lstmkit.export.onnx_graph import ExportError, Graph
from lstmkit.export.onnx_layers import Call, Value
from lstmkit.layers import merging, reshaping
from lstmkit.ops.core import EPSILON


def _check_masks(layer: Any, call: Call) -> None:
    """Refuse masks the mappings would spread wrongly: each must have one axis fewer than its
    value (a `mask=` argument may not), one per input."""
    if len(call.masks) != len(call.inputs):
        raise ExportError(
            f"to_onnx: layer '{layer.name}' merges {len(call.inputs)} inputs with a `mask=` of "
            f"{len(call.masks)}; the export maps one mask (or None) per input."
        )
    for m, rank, shape in zip(call.masks, call.mask_ranks, call.shapes):
        if m is not None and rank != len(shape) - 1:
            raise ExportError(
                f"to_onnx: layer '{layer.name}' gets a mask of rank {rank} for an input of "
                f"shape {shape}; the export maps merge masks with one axis fewer than their "
                "value (Keras's (batch, steps) masks) only."
            )


def _aligned(g: Graph, layer: Any, call: Call) -> list[str]:
    """The inputs at one rank: a lower-rank input gets unit axes after the batch axis (Keras's
    merge rule, not numpy's right-aligned broadcasting)."""
    _check_masks(layer, call)
    rank = max(len(s) for s in call.shapes)
    out = []
    for v, shape, m in zip(call.inputs, call.shapes, call.masks):
        k = rank - len(shape)
        if k and m is not None:
            raise ExportError(
                f"to_onnx: layer '{layer.name}' merges inputs of ranks "
                f"{[len(s) for s in call.shapes]} with a mask; the export maps masks only "
                "for inputs of one rank."
            )
        out.append(g.op("Unsqueeze", [v.name, g.ints(*range(1, 1 + k))]) if k else v.name)
    return out


def _spread(g: Graph, mask: str | None) -> str | None:
    """(batch, time) -> (batch, time, 1): broadcast over the features by Where/And."""
    return None if mask is None else g.op("Unsqueeze", [mask, g.ints(-1)])


def _out_mask(g: Graph, masks: list[str | None]) -> str | None:
    """The OR of the inputs' masks when every input has one, else None."""
    if any(m is None for m in masks):
        return None
    out = masks[0]
    for m in masks[1:]:
        out = g.op("Or", [out, m])
    return out


def _elementwise(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g
    xs = _aligned(g, layer, call)
    if isinstance(layer, (merging.Add, merging.Average)):
        out = xs[0]
        for x in xs[1:]:
            out = g.op("Add", [out, x])
        if isinstance(layer, merging.Average):
            out = g.op("Div", [out, g.const(np.float32(len(xs)))])
    elif isinstance(layer, merging.Subtract):
        out = g.op("Sub", xs)
    elif isinstance(layer, merging.Multiply):
        out = _multiply(g, xs, [_spread(g, m) for m in call.masks])
    else:
        op = "Max" if isinstance(layer, merging.Maximum) else "Min"
        out = _extremum(g, op, xs, [_spread(g, m) for m in call.masks])
    return [Value(out, _out_mask(g, call.masks))]


def _multiply(g: Graph, xs: list[str], masks: list[str | None]) -> str:
    """The product; a masked entry counts as 1, and with every input masked the entries no
    input keeps are 0."""
    all_masked = all(m is not None for m in masks)
    out, keep = None, None
    for x, m in zip(xs, masks):
        if m is not None:
            x = g.op("Where", [m, x, g.const(np.float32(1.0))])
            keep = m if keep is None else g.op("Or", [keep, m])
        out = x if out is None else g.op("Mul", [out, x])
    if all_masked:
        out = g.op("Where", [keep, out, g.const(np.float32(0.0))])
    return out


def _extremum(g: Graph, op: str, xs: list[str], masks: list[str | None]) -> str:
    """Max/Min folded left; where one operand is masked the other one's value is taken."""
    out, out_mask = xs[0], masks[0]
    for x, m in zip(xs[1:], masks[1:]):
        if m is not None:
            x = g.op("Where", [m, x, out])
        if out_mask is not None:
            out = g.op("Where", [out_mask, out, x])
        out_mask = None if m is None or out_mask is None else g.op("Or", [out_mask, m])
        out = g.op(op, [out, x])
    return out


def _concatenate(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g
    _check_masks(layer, call)
    xs = [v.name for v in call.inputs]
    out = g.op("Concat", xs, axis=layer.axis)
    if all(m is None for m in call.masks):
        return [Value(out)]
    full = []  # each mask spread over its input's shape (True where it has none)
    for x, m in zip(xs, call.masks):
        m = g.const(np.array(True)) if m is None else _spread(g, m)
        full.append(g.op("Expand", [m, g.op("Shape", [x])]))
    joined = g.op("Cast", [g.op("Concat", full, axis=layer.axis)], to=g.onnx.TensorProto.FLOAT)
    anyof = g.reduce("ReduceMax", joined, [-1])  # any over the last axis
    return [Value(out, g.op("Cast", [anyof], to=g.onnx.TensorProto.BOOL))]


def _l2_normalize(g: Graph, x: str, axis: int) -> str:
    """x * min(1 / sqrt(sum(x**2)), 1 / epsilon) along `axis` (lstmkit's ops.normalize)."""
    total = g.reduce("ReduceSum", g.op("Mul", [x, x]), [axis], keepdims=True)
    inv = g.op("Div", [g.const(np.float32(1.0)), g.op("Sqrt", [total])])
    return g.op("Mul", [x, g.op("Min", [inv, g.const(np.float32(1.0 / EPSILON))])])


def _dot(ctx: Any, layer: Any, call: Call) -> list[Value]:
    """An Einsum contracting axis a0 of x with axis a1 of y, sample by sample."""
    g = ctx.g
    (x, y), (r1, r2) = [v.name for v in call.inputs], [len(s) for s in call.shapes]
    axes = (layer.axes, layer.axes) if isinstance(layer.axes, int) else layer.axes
    a0, a1 = axes[0] % r1, axes[1] % r2
    if layer.normalize:
        x, y = _l2_normalize(g, x, a0), _l2_normalize(g, y, a1)
    letters = string.ascii_letters
    xs = letters[:r1]
    rest = iter(letters[r1:])
    ys = "".join(xs[0] if i == 0 else xs[a0] if i == a1 else next(rest) for i in range(r2))
    out_spec = xs[:a0] + xs[a0 + 1 :] + "".join(c for i, c in enumerate(ys) if i not in (0, a1))
    out = g.op("Einsum", [x, y], equation=f"{xs},{ys}->{out_spec}")
    if len(out_spec) == 1:  # (batch,) -> (batch, 1), as Keras
        out = g.op("Unsqueeze", [out, g.ints(-1)])
    return [Value(out)]


def _repeat_vector(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g  # (batch, features) -> (batch, 1, features) -> (batch, n, features)
    x = g.op("Unsqueeze", [call.inputs[0].name, g.ints(1)])
    return [Value(g.op("Expand", [x, g.ints(1, layer.n, 1)]))]


def _permute(ctx: Any, layer: Any, call: Call) -> list[Value]:
    return [Value(ctx.g.op("Transpose", [call.inputs[0].name], perm=[0, *layer.dims]))]


LAYERS = {
    merging.Add: _elementwise,
    merging.Subtract: _elementwise,
    merging.Multiply: _elementwise,
    merging.Average: _elementwise,
    merging.Maximum: _elementwise,
    merging.Minimum: _elementwise,
    merging.Concatenate: _concatenate,
    merging.Dot: _dot,
    reshaping.RepeatVector: _repeat_vector,
    reshaping.Permute: _permute,
}
