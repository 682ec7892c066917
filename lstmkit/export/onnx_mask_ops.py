"""The mask operations Keras records in a functional model (not_equal, any, expand_dims,
zeros_like, ones_like, logical_or, concatenate on masks) as ONNX nodes.

A `.keras` file written by Keras holds them when a merging layer meets a masked input (e.g.
`add([embedded, embedded])` before an LSTM); lstmkit reads them into weightless layers
(lstmkit.saving.ops_layers) whose outputs reach later layers as `mask=`. The export sits beside
saving, not above it, so it knows these layers by their module and Keras name rather than by
class. Their outputs are booleans with no mask of their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.export.onnx_layers import Call, Value

OPS_MODULE = "lstmkit.saving.ops_layers"


def keras_op(layer: Any) -> str | None:
    """The Keras operation name of one of lstmkit's recorded mask operations, else None."""
    if type(layer).__module__ != OPS_MODULE:
        return None
    return getattr(type(layer), "keras_class_name", None)


def _not_equal(ctx: Any, layer: Any, call: Call) -> str:
    value = call.kwargs.pop("value", 0)
    x = call.inputs[0]
    dtype = {"int32": np.int32, "int64": np.int64, "bool": np.bool_}.get(ctx.dtype(x), np.float32)
    return ctx.g.op("Not", [ctx.g.op("Equal", [x.name, ctx.g.const(np.asarray(value, dtype))])])


def _any(ctx: Any, layer: Any, call: Call) -> str:
    g = ctx.g
    rank = len(call.shapes[0])
    axes = range(rank) if layer.axis is None else layer.axis
    axes = sorted(a % rank for a in (axes if isinstance(axes, (tuple, range)) else [axes]))
    numbers = g.op("Cast", [call.inputs[0].name], to=g.onnx.TensorProto.FLOAT)
    found = g.reduce("ReduceMax", numbers, axes, keepdims=layer.keepdims)
    return g.op("Cast", [found], to=g.onnx.TensorProto.BOOL)


def _expand_dims(ctx: Any, layer: Any, call: Call) -> str:
    return ctx.g.op("Unsqueeze", [call.inputs[0].name, ctx.g.ints(layer.axis)])


def _fill_like(ctx: Any, layer: Any, call: Call) -> str:
    g = ctx.g
    call.kwargs.pop("dtype", None)  # always bool
    shape = g.op("Shape", [call.inputs[0].name])
    return g.op("Expand", [g.const(np.array(bool(layer.fill))), shape])


def _logical_or(ctx: Any, layer: Any, call: Call) -> str:
    return ctx.g.op("Or", [v.name for v in call.inputs])


def _concatenate(ctx: Any, layer: Any, call: Call) -> str:
    return ctx.g.op("Concat", [v.name for v in call.inputs], axis=layer.axis)


def _convert_to_tensor(ctx: Any, layer: Any, call: Call) -> str:
    x = call.inputs[0].name
    if layer.to_dtype is None:
        return ctx.g.op("Identity", [x])
    return ctx.g.op(
        "Cast", [x], to=ctx.g.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(layer.to_dtype))
    )


_EMIT = {"NotEqual": _not_equal, "Any": _any, "ExpandDims": _expand_dims,
         "ZerosLike": _fill_like, "OnesLike": _fill_like, "LogicalOr": _logical_or,
         "Concatenate": _concatenate, "ConvertToTensor": _convert_to_tensor}  # fmt: skip


def emit(ctx: Any, layer: Any, call: Call) -> list[Value]:
    """One recorded mask operation (`keras_op(layer)` is not None)."""
    return [Value(_EMIT[keras_op(layer)](ctx, layer, call))]
