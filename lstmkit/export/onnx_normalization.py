"""LayerNormalization and BatchNormalization (its inference form) as ONNX nodes, in lstmkit's
arithmetic: `x * inv + shift` with `inv = gamma / sqrt(variance + epsilon)` and
`shift = beta - mean * inv`. Both pass the mask on unchanged (neither reads it at inference).

LayerNormalization is written with reductions rather than ONNX's LayerNormalization operator
(opset 17, trailing axes only), so it exports at every opset and over any `axis`.
BatchNormalization at inference is an affine map whose (features,) constants come from the
moving statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.export.onnx_layers import Call, Value
from lstmkit.layers import normalization


def _broadcast(value: Any, rank: int, axes: list[int]) -> np.ndarray:
    """A weight over `axes` reshaped to broadcast against a value of `rank` axes."""
    array = np.asarray(value, np.float32)
    shape = [1] * rank
    for a, d in zip(axes, array.shape):
        shape[a] = d
    return array.reshape(shape)


def _layer_norm(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g
    x = call.inputs[0].name
    rank = len(call.shapes[0])
    axes = sorted(a % rank for a in layer.axes)
    p = layer.params
    mean = g.reduce("ReduceMean", x, axes, keepdims=True)
    centered = g.op("Sub", [x, mean])
    variance = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, keepdims=True)
    eps = g.const(np.float32(layer.epsilon))
    inv = g.op("Div", [g.const(np.float32(1.0)), g.op("Sqrt", [g.op("Add", [variance, eps])])])
    if "gamma" in p:
        inv = g.op("Mul", [inv, g.const(_broadcast(p["gamma"], rank, axes), f"{layer.name}.gamma")])
    if layer.rms_scaling:  # the standard deviation only, no shift
        return [Value(g.op("Mul", [x, inv]), call.masks[0])]
    shift = g.op("Neg", [g.op("Mul", [mean, inv])])
    if "beta" in p:
        shift = g.op("Add", [shift, g.const(_broadcast(p["beta"], rank, axes),
                                            f"{layer.name}.beta")])  # fmt: skip
    return [Value(g.op("Add", [g.op("Mul", [x, inv]), shift]), call.masks[0])]


def _batch_norm(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g
    p = {k: np.asarray(v, np.float32) for k, v in layer.params.items()}
    rank = len(call.shapes[0])
    axis = layer.axis % rank
    inv = np.float32(1.0) / np.sqrt(p["moving_variance"] + np.float32(layer.epsilon))
    if "gamma" in p:
        inv = inv * p["gamma"]  # (features,)
    shift = -p["moving_mean"] * inv
    if "beta" in p:
        shift = shift + p["beta"]
    y = g.op("Mul", [call.inputs[0].name, g.const(_broadcast(inv, rank, [axis]),
                                                  f"{layer.name}.scale")])  # fmt: skip
    y = g.op("Add", [y, g.const(_broadcast(shift, rank, [axis]), f"{layer.name}.shift")])
    return [Value(y, call.masks[0])]


LAYERS = {
    normalization.LayerNormalization: _layer_norm,
    normalization.BatchNormalization: _batch_norm,
}
