"""Attention, AdditiveAttention, Softmax, EinsumDense and MultiHeadAttention as ONNX nodes
(`MatMul`, `Einsum`, `Softmax`, `Where`), in lstmkit's arithmetic step by step.

Masks as lstmkit applies them: Attention lowers the scores of masked values by 1e9 (and of
later steps with `use_causal_mask`) and zeroes the outputs of masked queries; its output mask is
the query's. Softmax sets masked entries to -1e9 before and 0 after. MultiHeadAttention ANDs the
query, value and key masks with `attention_mask`, the causal mask and the sliding window, then
takes lstmkit's path: the fused one (masked scores at -0.7 * float32's max, as
`jax.nn.dot_product_attention`; fully masked rows are uniform) or, with dropout, scores asked
for or value_dim != key_dim, the einsum one (the Softmax layer's masking; fully masked rows are
zero). EinsumDense passes the mask on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lstmkit.export.onnx_graph import ExportError, Graph
from lstmkit.export.onnx_layers import Call, Value, activation
from lstmkit.layers import attention, einsum_dense, multi_head_attention

MASKED_SCORE_OFFSET = 1.0e9  # Attention: masked scores are lowered by this (lstmkit's, Keras's)
SOFTMAX_MASKED = -1.0e9  # the Softmax layer: masked entries before normalising
FUSED_MASKED = -0.7 * float(np.finfo(np.float32).max)  # jax.nn.dot_product_attention's


def _const(g: Graph, value: Any, hint: str) -> str:
    return g.const(np.asarray(value, np.float32), hint)


def _steps(g: Graph, x: str, axis: int) -> str:
    """(n,) int64: 0, 1, ..., n - 1 for n the length of `axis` of x."""
    n = g.op("Gather", [g.op("Shape", [x]), g.const(np.int64(axis))])  # scalar
    return g.op("Range", [g.const(np.int64(0)), n, g.const(np.int64(1))])


def _causal(g: Graph, query: str, value: str) -> str:
    """(T, S) booleans: query step i sees value steps j <= i."""
    rows = g.op("Unsqueeze", [_steps(g, query, 1), g.ints(-1)])  # (T, 1)
    return g.op("GreaterOrEqual", [rows, _steps(g, value, 1)])


def _and(g: Graph, a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else g.op("And", [a, b])


def softmax(g: Graph, x: str, axes: list[int], mask: str | None, masked: float,
            zero_masked: bool) -> str:  # fmt: skip
    """softmax over `axes` (max-shifted exp over several); a mask sets masked entries to
    `masked` before, and to 0 after with `zero_masked` (the Softmax layer's rule)."""
    if mask is not None:
        x = g.op("Where", [mask, x, g.const(np.float32(masked))])
    if len(axes) == 1:
        out = g.op("Softmax", [x], axis=axes[0])
    else:
        shifted = g.op("Exp", [g.op("Sub", [x, g.reduce("ReduceMax", x, axes, True)])])
        out = g.op("Div", [shifted, g.reduce("ReduceSum", shifted, axes, True)])
    if mask is not None and zero_masked:
        out = g.op("Where", [mask, out, g.const(np.float32(0.0))])
    return out


def _softmax_layer(ctx: Any, layer: Any, call: Call) -> list[Value]:
    axes = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    x, mask = call.inputs[0].name, call.masks[0]
    return [Value(softmax(ctx.g, x, axes, mask, SOFTMAX_MASKED, zero_masked=True), mask)]


def _scores(g: Graph, layer: Any, query: str, key: str, key_rank: int) -> str:
    """(batch, Tq, dim), (batch, Tv, dim) -> (batch, Tq, Tv): dot, concat or additive scores."""
    p = {k: np.asarray(v, np.float32) for k, v in layer.params.items()}
    scale = _const(g, p["scale"], f"{layer.name}.scale") if "scale" in p else None
    if not isinstance(layer, attention.AdditiveAttention) and layer.score_mode == "dot":
        perm = [*range(key_rank - 2), key_rank - 1, key_rank - 2]
        scores = g.op("MatMul", [query, g.op("Transpose", [key], perm=perm)])
        return scores if scale is None else g.op("Mul", [scores, scale])
    pairs = g.op(
        "Add", [g.op("Unsqueeze", [query, g.ints(-2)]), g.op("Unsqueeze", [key, g.ints(-3)])]
    )  # (batch, Tq, Tv, dim)
    if isinstance(layer, attention.AdditiveAttention):  # sum(scale * tanh(q + k))
        pairs = g.op("Tanh", [pairs])
        return g.reduce("ReduceSum", pairs if scale is None else g.op("Mul", [scale, pairs]), [-1])
    if scale is not None:  # concat: weight * sum(tanh(scale * (q + k)))
        pairs = g.op("Mul", [scale, pairs])
    weight = _const(g, p["concat_score_weight"], f"{layer.name}.concat_score_weight")
    return g.op("Mul", [weight, g.reduce("ReduceSum", g.op("Tanh", [pairs]), [-1])])


def _attention(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g
    want_scores = bool(call.kwargs.pop("return_attention_scores", False))
    causal = bool(call.kwargs.pop("use_causal_mask", False))
    names = [v.name for v in call.inputs]
    query, value = names[0], names[1]
    key = names[2] if len(names) > 2 else value
    q_mask, v_mask = (call.masks + [None, None])[:2]
    scores = _scores(g, layer, query, key, len(call.shapes[len(names) - 1]))  # (b, Tq, Tv)
    mask = None if v_mask is None else g.op("Unsqueeze", [v_mask, g.ints(-2)])  # (b, 1, Tv)
    if causal:
        mask = _and(g, mask, _causal(g, query, key))
    if mask is not None:
        lowered = g.op("Sub", [scores, g.const(np.float32(MASKED_SCORE_OFFSET))])
        scores = g.op("Where", [mask, scores, lowered])
    weights = g.op("Softmax", [scores], axis=-1)  # (batch, Tq, Tv)
    out = g.op("MatMul", [weights, value])  # (batch, Tq, dim)
    if q_mask is not None:
        keep = g.op("Unsqueeze", [q_mask, g.ints(-1)])
        out = g.op("Where", [keep, out, g.const(np.float32(0.0))])
    return [Value(out, q_mask)] + ([Value(weights, q_mask)] if want_scores else [])


def project(g: Graph, layer: Any, x: str) -> str:
    """activation(einsum(equation, x, kernel) + bias)."""
    p = layer.params
    y = g.op("Einsum", [x, _const(g, p["kernel"], f"{layer.name}.kernel")],
             equation=layer.equation)  # fmt: skip
    if "bias" in p:
        y = g.op("Add", [y, _const(g, p["bias"], f"{layer.name}.bias")])
    return activation(g, layer.activation, y, layer.name)


def _einsum_dense(ctx: Any, layer: Any, call: Call) -> list[Value]:
    return [Value(project(ctx.g, layer, call.inputs[0].name), call.masks[0])]


def _mha_mask(g: Graph, layer: Any, names: list[str], masks: list[str | None],
              attention_mask: str | None, causal: bool) -> str | None:  # fmt: skip
    """lstmkit's attention mask: every mask given, ANDed, (batch|1, T, S); or None."""
    query, value = names[0], names[1]
    q_mask, v_mask, k_mask = masks
    mask = None if q_mask is None else g.op("Unsqueeze", [q_mask, g.ints(-1)])  # (b, T, 1)
    for m in (v_mask, k_mask):
        if m is not None:
            mask = _and(g, mask, g.op("Unsqueeze", [m, g.ints(-2)]))  # (b, 1, S)
    if causal:
        mask = _and(g, mask, _causal(g, query, value))
    if layer.sliding_window is not None:
        rows = g.op("Unsqueeze", [_steps(g, query, 1), g.ints(-1)])
        gap = g.op("Abs", [g.op("Sub", [rows, _steps(g, value, 1)])])  # (T, S)
        mask = _and(g, mask, g.op("Less", [gap, g.const(np.int64(layer.sliding_window))]))
    if attention_mask is not None:
        given = g.op("Cast", [attention_mask], to=g.onnx.TensorProto.BOOL)
        mask = _and(g, given, mask)
    return mask


def _multi_head_attention(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g, kw = ctx.g, call.kwargs
    want_scores = bool(kw.pop("return_attention_scores", False))
    causal = bool(kw.pop("use_causal_mask", False))
    kw.pop("query_mask", None)  # lstmkit (as Keras 3) reads the query's mask from the graph only
    given = {n: kw.pop(n, None) for n in ("attention_mask", "value_mask", "key_mask")}
    if any(len(s) != 3 for s in call.shapes):
        raise ExportError(
            f"to_onnx: layer '{layer.name}' (MultiHeadAttention) is called on shapes "
            f"{call.shapes}; the export maps 3-D (batch, steps, features) inputs only."
        )
    names = [v.name for v in call.inputs]
    masks = (call.masks + [None] * 3)[:3]
    if len(names) < 3:
        masks[2] = None  # no key input: its mask is not the value's
    for i, n in ((1, "value_mask"), (2, "key_mask")):
        if given[n] is not None:  # numbers or booleans: nonzero is kept
            masks[i] = g.op("Cast", [given[n].name], to=g.onnx.TensorProto.BOOL)
    attention_mask = None if given["attention_mask"] is None else given["attention_mask"].name
    mask = _mha_mask(g, layer, names, masks, attention_mask, causal)
    if mask is not None:  # (b, T, S) -> (b, 1, T, S): the same mask for every head
        mask = g.op("Unsqueeze", [mask, g.ints(-3)])
    sub = layer._sublayers
    q = project(g, sub["query_dense"], names[0])  # (B, T, N, key_dim)
    k = project(g, sub["key_dense"], names[2] if len(names) > 2 else names[1])
    v = project(g, sub["value_dense"], names[1])  # (B, S, N, value_dim)
    scale = g.const(np.float32(1.0 / math.sqrt(float(layer.key_dim))))
    scores = None
    if not (layer.dropout > 0.0 or want_scores or layer.value_dim != layer.key_dim):
        logits = g.op("Mul", [g.op("Einsum", [q, k], equation="btnh,bsnh->bnts"), scale])
        probs = softmax(g, logits, [-1], mask, FUSED_MASKED, zero_masked=False)
        out = g.op("Einsum", [probs, v], equation="bnts,bsnh->btnh")  # (B, T, N, value_dim)
    else:
        scaled = g.op("Mul", [q, scale])
        logits = g.op("Einsum", [k, scaled], equation=layer._dot_eq)  # (B, N, T, S)
        scores = softmax(g, logits, [-1], mask, SOFTMAX_MASKED, zero_masked=True)
        out = g.op("Einsum", [scores, v], equation=layer._combine_eq)
    if layer.use_gate:
        out = g.op("Mul", [out, project(g, sub["_gate_dense"], names[0])])
    out = project(g, sub["output_dense"], out)  # (B, T, *output_shape)
    q_mask = call.masks[0] if call.masks else None
    return [Value(out, q_mask)] + ([Value(scores, q_mask)] if want_scores else [])


LAYERS = {
    attention.Attention: _attention,
    attention.AdditiveAttention: _attention,
    attention.Softmax: _softmax_layer,
    einsum_dense.EinsumDense: _einsum_dense,
    multi_head_attention.MultiHeadAttention: _multi_head_attention,
}
