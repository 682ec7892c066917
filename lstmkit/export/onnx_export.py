"""`to_onnx(model, path)`: a built lstmkit model as an ONNX file, run by ONNX Runtime.

The model's graph of layer calls is walked in order and each call becomes ONNX nodes
(onnx_layers.py, onnx_recurrent.py; the layers taking several inputs, masks or keywords through
a `Call`: onnx_merging.py, onnx_conv.py, onnx_normalization.py, onnx_attention.py). The batch
and time axes stay dynamic. Everything is checked and built in memory first: a model that
cannot be exported raises an `ExportError` naming the layer and why, and nothing is written.
The file is then written atomically.

Streaming (`streaming=True`, the default for a model with a stateful layer): every recurrent
layer's initial states are graph inputs `<layer>_h` (and `<layer>_c` for an LSTM), shaped
(batch, units), and its final states graph outputs `<layer>_h_out` (`<layer>_c_out`), so a
runtime can feed a sequence in pieces, down to one step at a time, carrying the states itself.
"""

from __future__ import annotations

import os
from typing import Any

from lstmkit.export import (
    onnx_attention,
    onnx_conv,
    onnx_layers,
    onnx_mask_ops,
    onnx_merging,
    onnx_normalization,
    onnx_recurrent,
)
from lstmkit.export.onnx_graph import DEFAULT_OPSET, ExportError, Graph
from lstmkit.export.onnx_layers import Call, Value
from lstmkit.layers.attention import Attention
from lstmkit.layers.core import InputLayer
from lstmkit.layers.merging import Merge
from lstmkit.layers.multi_head_attention import MultiHeadAttention
from lstmkit.layers.recurrent import RNN
from lstmkit.layers.symbolic import is_symbolic, tree_leaves
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed
from lstmkit.models.functional import Model
from lstmkit.utils.file_utils import atomic_write

STATE_NAMES = ("h", "c")
# Layers whose mapping takes the whole call (several inputs, shapes, masks, keywords).
CALL_MAPPINGS = {**onnx_merging.LAYERS, **onnx_conv.LAYERS, **onnx_normalization.LAYERS,
                 **onnx_attention.LAYERS}  # fmt: skip
# Those of single-input layers, which TimeDistributed may wrap.
PER_STEP_MAPPINGS = {cls: emit for cls, emit in CALL_MAPPINGS.items()
                     if not issubclass(cls, (Merge, Attention, MultiHeadAttention))}  # fmt: skip


class _Context:
    """What the layer mappings share during one export: the graph, the masks turned into
    operator plans, and the streaming state inputs and outputs."""

    def __init__(self, g: Graph, streaming: bool):
        self.g = g
        self.streaming = streaming
        self._plans: dict[str, onnx_recurrent.MaskPlan] = {}
        self._dtypes: dict[str, str] = {}
        self._state_outputs: list[tuple[str, str, int]] = []

    def dtype(self, value: Value) -> str:
        return self._dtypes.get(value.name, "float32")

    def set_dtype(self, name: str, dtype: str) -> None:
        self._dtypes[name] = dtype

    def mask_plan(self, mask: str | None) -> onnx_recurrent.MaskPlan | None:
        if mask is None:
            return None
        if mask not in self._plans:
            self._plans[mask] = onnx_recurrent.MaskPlan(self.g, mask)
        return self._plans[mask]

    def initial_states(self, layer: RNN, given: list[str] | None) -> list[str] | None:
        """The states a recurrent layer starts from: given, graph inputs when streaming, or
        None (zeros)."""
        if not self.streaming:
            return given
        if given is not None:
            raise ExportError(
                f"to_onnx: layer '{layer.name}' is called with initial_state; a streaming "
                "export feeds every recurrent layer's states as graph inputs instead."
            )
        n = len(layer.cell.state_size)
        units = layer.cell.units
        return [self.g.add_input(f"{layer.name}_{s}", "float32", ["batch", units])
                for s in STATE_NAMES[:n]]  # fmt: skip

    def final_states(self, layer: RNN, states: list[str]) -> None:
        if self.streaming:
            for s, value in zip(STATE_NAMES, states):
                self._state_outputs.append((value, f"{layer.name}_{s}_out", layer.cell.units))

    def finish(self) -> None:
        for value, name, units in self._state_outputs:
            self.g.add_output(value, name, "float32", ["batch", units])


def _check_model(model: Any) -> None:
    if not isinstance(model, Model):
        raise ExportError(f"to_onnx: expected an lstmkit Model, got {type(model).__name__}.")
    if not getattr(model, "_graph_ready", False) or not hasattr(model, "_nodes"):
        raise ExportError(
            f"to_onnx: model '{model.name}' is not built; give it an Input (or call it on data "
            "once) before exporting."
        )


def _emit_node(ctx: _Context, node: Any, values: dict[int, Value]) -> list[Value]:
    """One layer call -> its outputs, flattened in the order of `node.outputs`."""
    layer = node.layer
    ins = [values[id(t)] for t in tree_leaves(node.inputs)]
    kwargs = dict(node.kwargs)
    kwargs.pop("training", None)
    mask_arg = kwargs.pop("mask", None)
    if type(layer) in CALL_MAPPINGS:
        return _emit_call(ctx, node, ins, values, mask_arg, kwargs, CALL_MAPPINGS[type(layer)])
    if onnx_mask_ops.keras_op(layer) is not None:  # Keras's recorded mask computations
        return _emit_call(ctx, node, ins, values, mask_arg, kwargs, onnx_mask_ops.emit)
    initial = kwargs.pop("initial_state", None)
    extra = [k for k, v in kwargs.items() if v is not None]
    if extra:
        raise ExportError(
            f"to_onnx: layer '{layer.name}' is called with {extra}, which the export does not map."
        )
    x = ins[0]
    mask = values[id(mask_arg)].name if is_symbolic(mask_arg) else x.mask
    if isinstance(layer, Model):
        return _emit_model(ctx, layer, ins)
    if isinstance(layer, (RNN, Bidirectional)):
        init = None if initial is None else [values[id(t)].name for t in tree_leaves(initial)]
        emit = onnx_recurrent.emit_bidirectional if isinstance(layer, Bidirectional) else (
            onnx_recurrent.emit_rnn)  # fmt: skip
        return [Value(n, m) for n, m in emit(ctx, layer, x.name, mask, init)]
    if len(ins) != 1:
        raise ExportError(f"to_onnx: layer '{layer.name}' takes {len(ins)} inputs; no mapping.")
    x = Value(x.name, mask)
    if isinstance(layer, TimeDistributed):
        shape = tree_leaves(node.inputs)[0].shape
        return [onnx_layers.time_distributed(ctx, layer, x, shape, PER_STEP_MAPPINGS)]
    emit = onnx_layers.MAPPINGS.get(type(layer))
    if emit is None:
        mapped = sorted(c.__name__ for c in [*onnx_layers.MAPPINGS, *CALL_MAPPINGS])
        raise ExportError(
            f"to_onnx: layer '{layer.name}' ({type(layer).__name__}) has no ONNX mapping. "
            f"Exported layers: {mapped}, LSTM, GRU, SimpleRNN, RNN, Bidirectional, "
            "TimeDistributed."
        )
    return [emit(ctx, layer, x)]


def _graph_value(values: dict[int, Value], obj: Any, where: str) -> Any:
    """A call argument with its symbolic tensors replaced by their graph values."""
    if is_symbolic(obj):
        return values[id(obj)]
    if isinstance(obj, (list, tuple)):
        return [_graph_value(values, o, where) for o in obj]
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        raise ExportError(
            f"to_onnx: layer '{where}' is called with a constant array argument; the export "
            "maps only the model's own tensors (pass it through an Input)."
        )
    return obj


def _as_bool(ctx: _Context, value: Value) -> str:
    """A mask given as numbers: nonzero is kept (lstmkit's `mask.astype(bool)`)."""
    if ctx.dtype(value) == "bool":
        return value.name
    return ctx.g.op("Cast", [value.name], to=ctx.g.onnx.TensorProto.BOOL)


def _emit_call(ctx: _Context, node: Any, ins: list[Value], values: dict[int, Value],
               mask_arg: Any, kwargs: dict, emit: Any) -> list[Value]:  # fmt: skip
    """A layer of the whole-call mappings (merging, convolution, normalization, attention,
    Keras's mask operations) through `emit(ctx, layer, call)`."""
    layer = node.layer
    shapes = [tuple(t.shape) for t in tree_leaves(node.inputs)]
    if mask_arg is None:
        masks = [v.mask for v in ins]
        ranks = [len(s) - 1 for s in shapes]
    else:  # a `mask=` argument: one mask, or one per input
        given = list(mask_arg) if isinstance(mask_arg, (list, tuple)) else [mask_arg]
        if any(m is not None and not is_symbolic(m) for m in given):
            _graph_value(values, mask_arg, layer.name)  # refuses constant arrays, naming the layer
        masks = [_as_bool(ctx, values[id(m)]) if is_symbolic(m) else None for m in given]
        ranks = [len(m.shape) if is_symbolic(m) else None for m in given] or [None]
        masks = masks or [None]
    kw = {k: _graph_value(values, v, layer.name) for k, v in kwargs.items()}
    call = Call(ins, shapes, masks, kw, ranks)
    outs = emit(ctx, layer, call)
    extra = [k for k, v in call.kwargs.items() if v is not None and v is not False]
    if extra:
        raise ExportError(
            f"to_onnx: layer '{layer.name}' is called with {extra}, which the export does not map."
        )
    return outs


def _emit_model(ctx: _Context, model: Model, inputs: list[Value]) -> list[Value]:
    """Every layer call of `model` on `inputs` (graph values); returns its outputs' values."""
    _check_model(model)
    if len(inputs) != len(model.inputs):
        raise ExportError(
            f"to_onnx: model '{model.name}' takes {len(model.inputs)} inputs, got {len(inputs)}."
        )
    values = {id(t): v for t, v in zip(model.inputs, inputs)}
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        outs = _emit_node(ctx, node, values)
        leaves = tree_leaves(node.outputs)
        if len(outs) != len(leaves):
            raise ExportError(
                f"to_onnx: layer '{node.layer.name}' gave {len(outs)} outputs where the model "
                f"has {len(leaves)}."
            )
        for t, v in zip(leaves, outs):
            values[id(t)] = v
            ctx.set_dtype(v.name, t.dtype)
    return [values[id(t)] for t in model.outputs]


def _dims(shape: tuple, prefix: str | None) -> list:
    """ONNX dims: "batch" (shared by every input and output), the others fixed or dynamic;
    an input's dynamic axes get its own names (inputs may differ in time length)."""
    dims: list[Any] = ["batch"]
    for axis, d in enumerate(shape[1:], start=1):
        named = "time" if axis == 1 else f"axis{axis}"
        dims.append(d if d is not None else (f"{prefix}_{named}" if prefix else None))
    return dims


def build_onnx(model: Any, opset: int = DEFAULT_OPSET, streaming: bool | None = None) -> Any:
    """The ONNX ModelProto of `model` (nothing written); see `to_onnx`."""
    _check_model(model)
    g = Graph(opset)
    layers = [layer for layer in model.layers]
    if streaming is None:
        streaming = any(getattr(layer, "stateful", False) for layer in layers)
    ctx = _Context(g, bool(streaming))
    inputs = []
    for t in model.inputs:
        name = t.node.layer.name
        g.add_input(name, t.dtype, _dims(t.shape, name))
        ctx.set_dtype(name, t.dtype)
        inputs.append(Value(name))
    outputs = _emit_model(ctx, model, inputs)
    taken: set[str] = set()
    for t, v in zip(model.outputs, outputs):
        name = t.node.layer.name if len(tree_leaves(t.node.outputs)) == 1 else t.name
        while name in taken:
            name += "_"
        taken.add(name)
        g.add_output(v.name, name, t.dtype, _dims(t.shape, None))
    ctx.finish()
    proto = g.model(model.name)
    g.onnx.checker.check_model(proto)
    return proto


def to_onnx(model: Any, path: Any, opset: int = DEFAULT_OPSET, streaming: bool | None = None,
            overwrite: bool = True) -> str:  # fmt: skip
    """Write `model` as an ONNX file with native LSTM/GRU/RNN operators; returns the path.

    `opset`: the ONNX opset (14 or newer). `streaming`: recurrent states as graph inputs and
    outputs (default: when a layer is stateful). Raises ExportError, naming the layer, for
    anything that cannot be exported, before writing anything; the file appears whole or not
    at all.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"to_onnx: {path!r} exists and overwrite=False.")
    data = build_onnx(model, opset, streaming).SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return path
