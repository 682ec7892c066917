"""Symbolic tensors from `Input` and the graph nodes that calling a layer on them records."""

from __future__ import annotations

from typing import Any

import jax

Shape = tuple  # of int | None


class SymbolicTensor:
    """A placeholder with a shape (batch may be None), produced by `Input` or a layer call."""

    def __init__(self, shape: Shape, dtype: str = "float32", node: Node | None = None, index=0):
        self.shape = tuple(shape)
        self.dtype = str(dtype)
        self.node = node  # the call that produced this tensor
        self.index = index  # position among that call's flattened outputs
        self.name = f"{node.layer.name}_{index}" if node is not None else "symbolic"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError(
            f"{self!r} is symbolic and has no length; build a Model from it and call the model."
        )

    def __iter__(self):
        raise TypeError(
            f"{self!r} is a single symbolic tensor and cannot be unpacked "
            "(did you mean return_state=True or return_sequences on the layer?)."
        )

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic: it has no values until a Model built from it is called on data."
        )


def is_symbolic(x: Any) -> bool:
    return isinstance(x, SymbolicTensor)


def tree_leaves(tree: Any) -> list:
    """Leaves of a nested structure, SymbolicTensors counting as leaves."""
    return jax.tree_util.tree_leaves(tree, is_leaf=is_symbolic)


def any_symbolic(*trees: Any) -> bool:
    return any(is_symbolic(leaf) for t in trees for leaf in tree_leaves(t))


class Node:
    """One call of a layer on symbolic inputs: what went in, which keywords, what came out."""

    def __init__(self, layer, inputs: Any, kwargs: dict[str, Any]):
        self.layer = layer
        self.inputs = inputs  # structure of SymbolicTensors (the call's first argument)
        self.kwargs = kwargs  # may hold SymbolicTensors (initial_state, mask) or plain values
        self.outputs: Any = None  # structure of SymbolicTensors, set by the layer

    @property
    def parent_tensors(self) -> list[SymbolicTensor]:
        """Every symbolic tensor this call consumed, inputs first."""
        return [t for t in tree_leaves((self.inputs, self.kwargs)) if is_symbolic(t)]


def first_call(layer: Any, attr_name: str) -> Any:
    """`layer.input` / `layer.output`: the tensor(s) of the layer's first symbolic call, one
    tensor unwrapped, with Keras 3's errors (Keras: the first inbound node)."""
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if not nodes:
        raise AttributeError(
            f"The layer {layer.name} has never been called and thus has no defined {attr_name}."
        )
    node = nodes[0]
    if attr_name == "input":
        values = node.parent_tensors
    else:
        values = tree_leaves(node.outputs)
    return values[0] if len(values) == 1 else values
