"""The graph of a functional model as Keras 3 records it, and the order Keras puts its layers in.

Two things in a `.keras` file depend on Keras's view of the graph rather than lstmkit's:

1. **Masks are operations in Keras.** Keras computes the mask of `Masking` / `Embedding(mask_zero)`
   with graph operations (`not_equal`, `any`) and passes the result as `mask=` to the next layers
   whose `call` takes a mask. `keras_nodes` replays that bookkeeping over lstmkit's nodes, so the
   written graph is the one Keras rebuilds when it loads the file.
2. **Layer order.** The weight file names layers by class and position in Keras's layer order
   (`layers/lstm`, `layers/lstm_1`, ...) and the optimizer's slots follow the same order. Keras
   orders the graph it recorded, mask operations included, so `keras_layer_order` runs the one
   ordering algorithm (models/layer_order.py) over these nodes.
"""

from __future__ import annotations

from typing import Any

from lstmkit.layers.base import Layer
from lstmkit.layers.calling import CallArgs, call_signature
from lstmkit.layers.core import Embedding, InputLayer, Masking
from lstmkit.layers.symbolic import SymbolicTensor, is_symbolic, tree_leaves
from lstmkit.models import Model, Sequential
from lstmkit.models.layer_order import keras_order
from lstmkit.saving.ops_layers import (
    AnyOp,
    ConcatenateOp,
    ExpandDimsOp,
    LogicalOrOp,
    NotEqualOp,
    OnesLikeOp,
    ZerosLikeOp,
    is_op,
)

# Keras layers whose `call` takes `mask=` (Keras fills it in from the input's mask).
MASK_ARG_LAYERS = {"RNN", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed",
                   "GlobalAveragePooling1D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}  # fmt: skip
# Keras layers that pass the previous mask on unchanged.
PASS_MASK_LAYERS = {"Dense", "Dropout", "Activation", "TimeDistributed"}
RNN_LAYERS = {"RNN", "LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
# Merging layers whose output mask is the OR of their inputs' masks (recorded as logical_or ops).
OR_MASK_LAYERS = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
# Layers whose output carries the mask of their first (query) input.
QUERY_MASK_LAYERS = {"Attention", "AdditiveAttention", "MultiHeadAttention"}
# Layers whose Keras `call(..., training=False)` default Keras writes into the node's kwargs.
TRAINING_FALSE_LAYERS = RNN_LAYERS | {"Dropout"}
# normalization and noise layers (layers/normalization.py, layers/regularization.py)
MASK_ARG_LAYERS |= {"BatchNormalization"}
PASS_MASK_LAYERS |= {"BatchNormalization", "LayerNormalization", "SpatialDropout1D",
                     "GaussianNoise"}  # fmt: skip
TRAINING_FALSE_LAYERS |= {"SpatialDropout1D", "GaussianNoise"}


class KNode:
    """One recorded call as Keras sees it: `layer(*args, **kwargs) -> outputs`."""

    def __init__(self, layer: Any, args: list, kwargs: dict, outputs: list):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs

    @property
    def is_input(self) -> bool:
        return isinstance(self.layer, InputLayer)

    @property
    def input_tensors(self) -> list:
        """Keras's flatten((args, kwargs)): dict keys sorted, SymbolicTensors as leaves."""
        kwargs = [self.kwargs[k] for k in sorted(self.kwargs)]
        return [t for t in tree_leaves((self.args, kwargs)) if is_symbolic(t)]


class _LazyMask:
    """A mask Keras would compute with ops, materialized only if a later layer consumes it."""

    def __init__(self, kind: str, source: SymbolicTensor, value: Any):
        self.kind, self.source, self.value = kind, source, value
        self.tensor: SymbolicTensor | None = None


class _Recorder:
    def __init__(self, taken_names: set[str]):
        self.nodes: list[KNode] = []
        self.taken = set(taken_names)

    def name(self, base: str) -> str:
        name, i = base, 0
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def op(self, layer: Any, args: list, shape: tuple) -> SymbolicTensor:
        node = KNode(layer, args, {}, [])
        node.outputs = [SymbolicTensor(shape, "bool", node, 0)]
        self.nodes.append(node)
        return node.outputs[0]

    def resolve(self, mask: Any) -> Any:
        """A mask structure with every lazy mask turned into an op output tensor."""
        if isinstance(mask, list):
            return [self.resolve(m) for m in mask]
        if not isinstance(mask, _LazyMask):
            return mask
        if mask.tensor is None and mask.kind == "or":
            mask.tensor = self.logical_or(self.resolve(mask.source))
        elif mask.tensor is None and mask.kind == "concat":
            mask.tensor = self.concat_mask(mask.source, mask.value)
        elif mask.tensor is None:
            src = mask.source
            ne = NotEqualOp(name=self.name("not_equal"))
            out = self.op(ne, [src, mask.value], src.shape)
            if mask.kind == "masking":
                any_op = AnyOp(axis=-1, keepdims=False, name=self.name("any"))
                out = self.op(any_op, [out], src.shape[:-1])
            mask.tensor = out
        return mask.tensor

    def logical_or(self, masks: list) -> SymbolicTensor:
        """Keras's Merge.compute_mask: logical_or of the masks, left to right."""
        out = masks[0]
        for m in masks[1:]:
            op = LogicalOrOp(name=self.name("logical_or"))
            out = self.op(op, [out, m], op.compute_output_shape([out.shape, m.shape]))
        return out

    def concat_mask(self, pairs: list, axis: int) -> SymbolicTensor:
        """Keras's Concatenate.compute_mask: each input's mask spread over its shape (ones where
        it has none), joined on `axis`, then any over the last axis."""
        full = []
        for x, m in pairs:
            m = self.resolve(m)
            if m is None:
                m = self.op(OnesLikeOp(name=self.name("ones_like")), [x], x.shape)
            elif len(m.shape) < len(x.shape):
                grown = self.op(ExpandDimsOp(-1, name=self.name("expand_dims")), [m],
                                (*m.shape, 1))  # fmt: skip
                zeros = self.op(ZerosLikeOp(name=self.name("zeros_like")), [x], x.shape)
                m = self.logical_or([grown, zeros])
            full.append(m)
        cat = ConcatenateOp(axis, name=self.name("concatenate"))
        # Keras records concatenate([masks], axis): one list argument
        out = self.op(cat, [full], cat.compute_output_shape([m.shape for m in full]))
        any_op = AnyOp(axis=-1, keepdims=False, name=self.name("any"))
        return self.op(any_op, [out], out.shape[:-1])


def _first_mask(mask: Any) -> Any:
    while isinstance(mask, list):
        mask = mask[0] if mask else None
    return mask


def _output_masks(layer: Any, node: Any, previous: Any, n_out: int) -> list:
    """Keras's compute_mask for each flat output of the call (None, a tensor or a lazy mask)."""
    cls = type(layer).__name__
    first = node.inputs
    if isinstance(layer, Masking) and is_symbolic(first):
        return [_LazyMask("masking", first, layer.mask_value)]
    if isinstance(layer, Embedding) and is_symbolic(first):
        return [_LazyMask("embedding", first, 0) if layer.mask_zero else None]
    if cls in OR_MASK_LAYERS:  # Keras ORs the inputs' masks when every input has one
        masks = previous if isinstance(previous, list) else []
        ok = bool(masks) and all(m is not None for m in masks)
        return [_LazyMask("or", masks, None) if ok else None] + [None] * (n_out - 1)
    if cls == "Concatenate" and isinstance(previous, list) and any(m is not None for m in previous):
        pairs = list(zip(tree_leaves(first), previous))
        return [_LazyMask("concat", pairs, layer.axis)] + [None] * (n_out - 1)
    if cls in RNN_LAYERS or cls == "Bidirectional":
        out = _first_mask(previous) if layer.return_sequences else None
        n_seq = 2 if cls == "Bidirectional" and layer.merge_mode is None else 1
        return [out] * n_seq + [None] * (n_out - n_seq)
    if cls in QUERY_MASK_LAYERS:
        return [_first_mask(previous)] + [None] * (n_out - 1)
    if cls in PASS_MASK_LAYERS or (layer.keras_style and layer.supports_masking
                                   and type(layer).compute_mask is Layer.compute_mask):  # fmt: skip
        return [_first_mask(previous)] + [None] * (n_out - 1)
    return [None] * n_out


def keras_nodes(model: Any, ignore_masks: set[int] = frozenset()) -> list[KNode]:
    """The model's calls as Keras records them, mask operations included.

    `mask=` arguments that are tensors in `ignore_masks` are treated as absent (so Keras's own
    mask bookkeeping decides), which `without_mask_ops` uses to check them.
    """
    rec = _Recorder({layer.name for layer in model.layers})
    masks: dict[int, Any] = {}
    for node in model._nodes:
        layer = node.layer
        outputs = tree_leaves(node.outputs)
        if isinstance(layer, InputLayer):
            rec.nodes.append(KNode(layer, [], {}, outputs))
            continue
        kwargs = {k: v for k, v in node.kwargs.items() if v is not None}
        if id(kwargs.get("mask")) in ignore_masks:
            del kwargs["mask"]
        if is_op(layer):
            args, kwargs = layer.keras_args(node.inputs, kwargs)
            rec.nodes.append(KNode(layer, args, kwargs, outputs))
            continue
        in_masks = _map_tensors(node.inputs, lambda t: masks.get(id(t)))
        tensor_kwargs = [k for k, v in kwargs.items() if k != "mask" and tree_leaves(v)
                         and any(is_symbolic(t) for t in tree_leaves(v))]  # fmt: skip
        if "mask" in kwargs:
            previous = kwargs["mask"]
        elif _takes_mask(layer) and not tensor_kwargs:
            previous = kwargs["mask"] = rec.resolve(in_masks)  # None too, as Keras records it
        else:
            previous = in_masks
        if type(layer).__name__ in TRAINING_FALSE_LAYERS and not tensor_kwargs:
            kwargs.setdefault("training", False)  # Keras records its call() default here
        args = [node.inputs]
        if isinstance(node.inputs, CallArgs):  # mha(query, value=v): keyword inputs as kwargs
            args, by_name = node.inputs.split()
            kwargs = {**by_name, **kwargs}
        knode = KNode(layer, args, kwargs, outputs)
        rec.nodes.append(knode)
        for t, m in zip(outputs, _output_masks(layer, node, previous, len(outputs))):
            masks[id(t)] = m
    return rec.nodes


def _takes_mask(layer: Any) -> bool:
    """Whether Keras passes the inputs' mask to this layer's call (a built-in that takes one,
    or a user's layer whose `call` has a `mask` argument)."""
    if type(layer).__name__ in MASK_ARG_LAYERS:
        return True
    if isinstance(layer, Model) and not layer.keras_style:  # a nested Sequential / functional
        return True
    return layer.keras_style and "mask" in call_signature(layer)[0]


def _map_tensors(structure: Any, fn: Any) -> Any:
    if isinstance(structure, (list, tuple)):
        return [_map_tensors(s, fn) for s in structure]
    return fn(structure) if is_symbolic(structure) else None


def keras_layer_order(nodes: list[KNode], inputs: list, outputs: list) -> list[Any]:
    """Every layer/op of the graph in Keras's `model.operations` order (models/layer_order.py)."""
    producer = {id(t): n for n in nodes for t in n.outputs}
    return keras_order(
        inputs,
        outputs,
        lambda t: producer[id(t)],
        lambda node: [] if node.is_input else node.input_tensors,
    )[1]


def calls_by_layer(nodes: list[KNode]) -> dict[int, list[KNode]]:
    """id(layer) -> the layer's nodes in this graph in call order, as Keras numbers them (a
    shared layer's node index is its call's place in the layer's inbound nodes)."""
    groups: dict[int, list[KNode]] = {}
    for node in nodes:
        groups.setdefault(id(node.layer), []).append(node)
    for key, group in groups.items():
        calls = group[0].layer.__dict__.get("_inbound_nodes") or []
        position = {id(n): i for i, n in enumerate(calls)}

        def call_index(k: KNode, n: int = len(calls), position: dict = position) -> int:
            produced_by = getattr(k.outputs[0], "node", None) if k.outputs else None
            return position.get(id(produced_by), n)

        groups[key] = sorted(group, key=call_index)  # stable: mask ops keep their order
    return groups


def node_indices(nodes: list[KNode]) -> dict[int, tuple[int, int]]:
    """id(tensor) -> (node index within its layer, tensor index), Keras's keras_history."""
    history: dict[int, tuple[int, int]] = {}
    for group in calls_by_layer(nodes).values():
        for index, node in enumerate(group):
            for i, t in enumerate(node.outputs):
                history[id(t)] = (index, i)
    return history


def model_layer_order(model: Any) -> list[Any]:
    """The layers of `model.layers` in Keras's order (Sequential: the stack; ops excluded)."""

    if isinstance(model, Sequential) or not hasattr(model, "_nodes") or model.keras_style:
        return list(model.layers)
    nodes = keras_nodes(model)
    order = keras_layer_order(nodes, model.inputs, model.outputs)
    return [layer for layer in order if not is_op(layer)]


# ----- reading Keras's mask operations back -------------------------------------------------------
def _mask_key(t: Any) -> Any:
    """What a mask tensor computes: ("any", axis, keepdims, ...), ("ne", source, value), or id."""
    if isinstance(t, (list, tuple)):
        return tuple(_mask_key(m) for m in t)
    if not is_symbolic(t):
        return None
    node, layer = t.node, t.node.layer
    if isinstance(node, KNode):
        src, value = node.args[0], (node.args[1] if len(node.args) > 1 else None)
    else:
        src, value = node.inputs, node.kwargs.get("value", 0)
    if isinstance(layer, AnyOp):
        return ("any", layer.axis, layer.keepdims, _mask_key(src))
    if isinstance(layer, NotEqualOp):
        return ("ne", id(src), float(value))
    return ("tensor", id(t))


def without_mask_ops(model: Any) -> Any:
    """`model` rebuilt without the mask operations Keras recorded, when every one of them is
    exactly the mask that Keras (and lstmkit) derive by themselves from Masking/Embedding; the
    model unchanged otherwise. The rebuilt model has the same layers (weights shared)."""
    op_nodes = [n for n in model._nodes if is_op(n.layer)]
    if not op_nodes:
        return model
    op_outputs = {id(t) for n in op_nodes for t in tree_leaves(n.outputs)}
    layer_nodes = [n for n in model._nodes if not is_op(n.layer)]
    for n in layer_nodes:  # op outputs may only be used as masks
        data = (n.inputs, {k: v for k, v in n.kwargs.items() if k != "mask"})
        if any(id(t) in op_outputs for t in tree_leaves(data) if is_symbolic(t)):
            return model
    if any(id(t) in op_outputs for t in model.outputs):
        return model
    derived = keras_nodes(model, ignore_masks=op_outputs)
    derived_layer_nodes = [k for k in derived if not is_op(k.layer)]
    for n, k in zip(layer_nodes, derived_layer_nodes):
        if _mask_key(n.kwargs.get("mask")) != _mask_key(k.kwargs.get("mask")):
            return model
    new: dict[int, Any] = {id(t): t for t in model.inputs}

    def remap(x: Any) -> Any:
        if is_symbolic(x):
            return new[id(x)]
        if isinstance(x, (list, tuple)):
            return [remap(v) for v in x]
        if isinstance(x, dict):
            return {k: remap(v) for k, v in x.items()}
        return x

    for n in layer_nodes:
        if isinstance(n.layer, InputLayer):
            continue
        kwargs = {k: remap(v) for k, v in n.kwargs.items() if id(v) not in op_outputs}
        inputs = remap(n.inputs)
        if isinstance(n.inputs, CallArgs):  # several inputs, call(query, value[, key=...])
            named = len(n.inputs.keywords)
            kwargs.update(zip(n.inputs.keywords, inputs[len(inputs) - named :]))
            outs = n.layer(*inputs[: len(inputs) - named], **kwargs)
        else:
            outs = n.layer(inputs, **kwargs)
        for old, out in zip(tree_leaves(n.outputs), tree_leaves(outs)):
            new[id(old)] = out
    rebuilt = Model(model._input_struct, remap(model._output_struct), name=model.name)
    if not model.trainable:
        rebuilt.trainable = False
    for n in layer_nodes:  # the replaced calls: `layer.output` is then the rebuilt graph's
        if not isinstance(n.layer, InputLayer) and n in n.layer.__dict__.get("_inbound_nodes", []):
            n.layer._inbound_nodes.remove(n)
    return rebuilt
