"""The non-recurrent layers as ONNX nodes: Embedding, Dense, Activation, Dropout, Masking,
Flatten, Reshape, GlobalMax/AveragePooling1D and TimeDistributed.

Each mapping is `emit(ctx, layer, inputs) -> outputs`, inputs and outputs being `Value`s (an ONNX
value name and the name of its Keras mask, (batch, time) booleans, or None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lstmkit.export.onnx_graph import ExportError, Graph
from lstmkit.kernels import activations as A
from lstmkit.layers import core

SQRT_HALF = 1.0 / math.sqrt(2.0)


@dataclass
class Value:
    name: str
    mask: str | None = None  # (batch, time) bool, Keras's mask riding along with the value


@dataclass
class Call:
    """One layer call as the whole-call mappings see it: the input values, their Keras shapes
    (batch first, None where dynamic), one mask name per input (a `mask=` argument wins over
    the inputs' own), and the remaining keyword arguments: a mapping pops those it maps and
    the exporter refuses any left."""

    inputs: list[Value]
    shapes: list[tuple]
    masks: list[str | None]
    kwargs: dict[str, Any] = field(default_factory=dict)
    mask_ranks: list[int | None] = field(default_factory=list)  # a graph mask: its value's - 1


def activation(g: Graph, fn: Any, x: str, where: str) -> str:
    """An element-wise Keras activation on x, or an ExportError naming the layer."""
    op = lambda t, *i, **a: g.op(t, [*i], **a)  # noqa: E731
    c = lambda v: g.const(np.float32(v))  # noqa: E731
    simple = {A.relu: "Relu", A.sigmoid: "Sigmoid", A.tanh: "Tanh", A.softplus: "Softplus",
              A.softsign: "Softsign", A.exponential: "Exp", A.selu: "Selu",
              A.hard_silu: "HardSwish"}  # fmt: skip
    if fn is A.linear:
        return x
    if fn in simple:
        return op(simple[fn], x)
    if fn is A.softmax or fn is A.log_softmax:
        return op("Softmax" if fn is A.softmax else "LogSoftmax", x, axis=-1)
    if fn is A.hard_sigmoid or fn is A.hard_sigmoid_legacy:
        alpha = 1.0 / 6.0 if fn is A.hard_sigmoid else 0.2
        return op("HardSigmoid", x, alpha=alpha, beta=0.5)
    if fn is A.relu6 or fn is A.hard_tanh:
        low, high = (0.0, 6.0) if fn is A.relu6 else (-1.0, 1.0)
        return op("Clip", x, c(low), c(high))
    if fn is A.elu:
        return op("Elu", x, alpha=1.0)
    if fn is A.leaky_relu:
        return op("LeakyRelu", x, alpha=0.2)
    if fn is A.silu:
        return op("Mul", x, op("Sigmoid", x))
    if fn is A.gelu:  # Keras's activation: the exact erf form
        erf = op("Erf", op("Mul", x, c(SQRT_HALF)))
        return op("Mul", op("Mul", x, c(0.5)), op("Add", erf, c(1.0)))
    if fn is A.mish:
        return op("Mul", x, op("Tanh", op("Softplus", x)))
    if fn is A.log_sigmoid:
        return op("Neg", op("Softplus", op("Neg", x)))
    if fn is A.tanh_shrink:
        return op("Sub", x, op("Tanh", x))
    raise ExportError(
        f"to_onnx: layer '{where}' uses the activation {A.serialize(fn)!r}, which has no ONNX "
        "mapping here; use a built-in one (relu, sigmoid, tanh, softmax, gelu, ...)."
    )


def _dense(ctx, layer, x: Value) -> Value:
    g = ctx.g
    p = {k: np.asarray(v, np.float32) for k, v in layer.params.items()}
    y = g.op("MatMul", [x.name, g.const(p["kernel"], f"{layer.name}.kernel")])  # (..., units)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(p["bias"], f"{layer.name}.bias")])
    return Value(activation(g, layer.activation, y, layer.name), x.mask)


def _embedding(ctx, layer, x: Value) -> Value:
    g = ctx.g
    table = g.const(np.asarray(layer.params["embeddings"], np.float32), f"{layer.name}.embeddings")
    ids = x.name
    if ctx.dtype(x) not in ("int32", "int64"):  # float ids are cast, as lstmkit does
        ids = g.op("Cast", [ids], to=g.onnx.TensorProto.INT32)
    mask = None
    if layer.mask_zero:
        zero = g.const(np.zeros((), np.int32 if ctx.dtype(x) != "int64" else np.int64))
        mask = g.op("Not", [g.op("Equal", [ids, zero])])
    return Value(g.op("Gather", [table, ids], axis=0), mask)


def _masking(ctx, layer, x: Value) -> Value:
    g = ctx.g
    same = g.op("Equal", [x.name, g.const(np.float32(layer.mask_value))])
    keep = g.op("Cast", [g.op("Not", [same])], to=g.onnx.TensorProto.FLOAT)
    keep = g.reduce("ReduceMax", keep, [-1], keepdims=True)  # (batch, time, 1): any feature kept
    mask = g.op("Cast", [g.op("Squeeze", [keep, g.ints(-1)])], to=g.onnx.TensorProto.BOOL)
    return Value(g.op("Mul", [x.name, keep]), mask)


def _pooling(ctx, layer, x: Value) -> Value:
    g = ctx.g
    axis = layer.steps_axis
    if isinstance(layer, core.GlobalMaxPooling1D) or x.mask is None:
        op = "ReduceMax" if isinstance(layer, core.GlobalMaxPooling1D) else "ReduceMean"
        return Value(g.reduce(op, x.name, [axis], layer.keepdims))  # masks ignored, as Keras
    m = g.op("Cast", [x.mask], to=g.onnx.TensorProto.FLOAT)
    m = g.op("Unsqueeze", [m, g.ints(2 if axis == 1 else 1)])
    total = g.reduce("ReduceSum", g.op("Mul", [x.name, m]), [axis], layer.keepdims)
    return Value(g.op("Div", [total, g.reduce("ReduceSum", m, [axis], layer.keepdims)]))


def _flatten(ctx, layer, x: Value) -> Value:
    return Value(ctx.g.op("Flatten", [x.name], axis=1))


def _reshape(ctx, layer, x: Value) -> Value:
    g = ctx.g  # 0 copies the batch axis
    return Value(g.op("Reshape", [x.name, g.ints(0, *layer.target_shape)]))


def time_distributed(ctx, layer, x: Value, in_shape: tuple, per_step: dict) -> Value:
    """The inner layer on (batch * time, ...), reshaped back to (batch, time, ...). `per_step`:
    the whole-call mappings of single-input layers (Conv1D, the normalizations, ...)."""
    g = ctx.g
    inner = layer.layer
    plain = type(inner) in MAPPINGS and type(inner) is not core.Embedding
    if not plain and type(inner) not in per_step:
        names = sorted(c.__name__ for c in [*MAPPINGS, *per_step] if c is not core.Embedding)
        raise ExportError(
            f"to_onnx: layer '{layer.name}' is TimeDistributed({type(inner).__name__}); only "
            f"TimeDistributed over {names} is exported."
        )
    if any(d is None for d in in_shape[2:]):
        raise ExportError(
            f"to_onnx: layer '{layer.name}' (TimeDistributed) gets inputs of shape {in_shape}; "
            "the export needs every axis after the time axis known."
        )
    rest = [int(d) for d in in_shape[2:]]
    flat = g.op("Reshape", [x.name, g.ints(-1, *rest)])  # (batch * time, ...)
    if plain:
        y = MAPPINGS[type(inner)](ctx, inner, Value(flat)).name
    else:  # the inner layer sees no mask (lstmkit's TimeDistributed passes none)
        call = Call([Value(flat)], [(None, *rest)], [None], {}, [None])
        y = per_step[type(inner)](ctx, inner, call)[0].name
    out_rest = [int(d) for d in inner.compute_output_shape((None, *in_shape[2:]))[1:]]
    batch_time = g.op("Slice", [g.op("Shape", [x.name]), g.ints(0), g.ints(2)])
    shape = g.op("Concat", [batch_time, g.ints(*out_rest)], axis=0)
    return Value(g.op("Reshape", [y, shape]), x.mask)


MAPPINGS = {
    core.Dense: _dense,
    core.Activation: lambda ctx, layer, x: Value(
        activation(ctx.g, layer.activation, x.name, layer.name), x.mask
    ),
    core.Dropout: lambda ctx, layer, x: x,  # inference: the identity
    core.Embedding: _embedding,
    core.Masking: _masking,
    core.GlobalMaxPooling1D: _pooling,
    core.GlobalAveragePooling1D: _pooling,
    core.Flatten: _flatten,
    core.Reshape: _reshape,
}
