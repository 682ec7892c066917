"""Conv1D, MaxPooling1D, AveragePooling1D and the inference no-ops SpatialDropout1D and
GaussianNoise as ONNX nodes.

ONNX convolves and pools (batch, channels, steps), so channels_last values are transposed in and
out. Padding as Keras: 'valid' none; 'causal' the dilated kernel's reach minus one, all before
the first step; 'same' with the odd step of padding after the end, as XLA's 'SAME': fixed pads
with stride 1 (ONNX Runtime refuses SAME_UPPER with a dilation, which Keras allows only with
stride 1), else ONNX's SAME_UPPER, computed for any input length; AveragePooling1D's 'same' windows
average over their real steps only (`count_include_pad=0`). These layers drop the mask (they do
not support masking in Keras); the no-ops pass it on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.export.onnx_layers import Call, Value, activation
from lstmkit.layers import convolutional, pooling, regularization

_TO_CHANNELS_FIRST = [0, 2, 1]  # (batch, steps, channels) <-> (batch, channels, steps)


def _window(ctx: Any, layer: Any, op: str, inputs: list[str], size: int, before: int = 0,
            **attrs: Any) -> str:  # fmt: skip
    """`op` over the steps of a value in the layer's data_format (transposed around it), padded
    as the layer's `padding` says (`before`: the causal padding)."""
    g = ctx.g
    last = layer.data_format == "channels_last"
    x = g.op("Transpose", [inputs[0]], perm=_TO_CHANNELS_FIRST) if last else inputs[0]
    if layer.padding == "same" and layer.strides[0] > 1:  # the padding depends on the length
        attrs["auto_pad"] = "SAME_UPPER"
    elif layer.padding == "same":  # stride 1: the reach minus one, the odd step after the end
        total = attrs.get("dilations", [1])[0] * (size - 1)
        attrs["pads"] = [total // 2, total - total // 2]
    else:
        attrs["pads"] = [before, 0]  # (before, after) the steps
    y = g.op(op, [x, *inputs[1:]], kernel_shape=[size], **attrs)  # (batch, channels', steps')
    return g.op("Transpose", [y], perm=_TO_CHANNELS_FIRST) if last else y


def _conv1d(ctx: Any, layer: Any, call: Call) -> list[Value]:
    g = ctx.g
    kernel = np.asarray(layer.params["kernel"], np.float32)  # (size, channels/groups, filters)
    inputs = [call.inputs[0].name, g.const(kernel.transpose(2, 1, 0), f"{layer.name}.kernel")]
    if layer.use_bias:
        inputs.append(g.const(np.asarray(layer.params["bias"], np.float32), f"{layer.name}.bias"))
    size, dilation = layer.kernel_size[0], layer.dilation_rate[0]
    reach = dilation * (size - 1) if layer.padding == "causal" else 0
    y = _window(ctx, layer, "Conv", inputs, size, reach, strides=list(layer.strides),
                dilations=[dilation], group=layer.groups)  # fmt: skip
    return [Value(activation(g, layer.activation, y, layer.name))]


def _pooling(ctx: Any, layer: Any, call: Call) -> list[Value]:
    op = "MaxPool" if isinstance(layer, pooling.MaxPooling1D) else "AveragePool"
    y = _window(ctx, layer, op, [call.inputs[0].name], layer.pool_size[0],
                strides=list(layer.strides))  # fmt: skip
    return [Value(y)]


def _identity(ctx: Any, layer: Any, call: Call) -> list[Value]:
    """Training-only noise: at inference the value and its mask pass unchanged."""
    return [Value(call.inputs[0].name, call.masks[0])]


LAYERS = {
    convolutional.Conv1D: _conv1d,
    pooling.MaxPooling1D: _pooling,
    pooling.AveragePooling1D: _pooling,
    regularization.SpatialDropout1D: _identity,
    regularization.GaussianNoise: _identity,
}
