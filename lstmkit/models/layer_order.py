"""Keras's order of a graph's nodes and layers (`model.layers`), written once.

Keras (`keras.src.ops.function.map_graph`) walks the graph depth-first from each output in turn,
numbering every layer when it is first reached and listing every node after the nodes it consumes.
Then each node gets a depth, its distance from the outputs: at least one more than the depth of
any node that consumes it, and all the nodes of one layer share the deepest. `model.layers` is
the layers deepest first, ties broken by their number; an input that no output depends on still
counts, first among the shallowest.

Two graphs use it: lstmkit's own (`Model.layers`, the order the graph runs in) and the graph as
Keras records it, with its mask operations (`saving/keras_graph.py`, for Keras's weight files).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def keras_order(
    inputs: list[Any],
    outputs: list[Any],
    producer: Callable[[Any], Any],
    parents: Callable[[Any], list[Any]],
) -> tuple[list[Any], list[Any]]:
    """(every node of the graph: the inputs' and those the outputs depend on, each after the
    nodes it consumes; every layer, in Keras's `model.layers` order).

    `producer(tensor)` is the node that computes a tensor and `parents(node)` the tensors a node
    consumes; a node has a `.layer`. Raises ValueError on a cycle.
    """
    nodes: list[Any] = []  # inputs -> outputs
    layer_index: dict[int, int] = {}
    finished: set[int] = set()
    in_progress: set[int] = set()

    def visit(node: Any) -> None:
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"The graph has a cycle through layer '{node.layer.name}'.")
        layer_index.setdefault(id(node.layer), len(layer_index))
        in_progress.add(id(node))
        for t in parents(node):
            visit(producer(t))
        in_progress.discard(id(node))
        finished.add(id(node))
        nodes.append(node)

    for t in outputs:
        visit(producer(t))
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Any] = {}
    for node in reversed(nodes):  # outputs first: a consumer's depth is known before its parents'
        depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        node_depth[id(node)] = layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        for t in parents(node):
            parent = id(producer(t))
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    unreached = []  # an input no output depends on: its node first, its layer first at depth 0
    for t in inputs:
        node = producer(t)
        if id(node.layer) not in layer_depth:
            unreached.append(node)
            layer_depth[id(node.layer)], layer_index[id(node.layer)] = 0, -1
            layers[id(node.layer)] = node.layer
    order = sorted(layers, key=lambda k: (-layer_depth[k], layer_index[k]))
    return unreached + nodes, [layers[k] for k in order]


def keras_run_order(
    nodes: list[Any], producer: Callable[[Any], Any], parents: Callable[[Any], list[Any]]
) -> list[Any]:
    """`nodes` (as `keras_order` lists them) in the order Keras's `_run_through_graph` calls
    them, which `clone_model` follows: deepest first, ties in the order Keras first gave each
    node a depth (a node's parents get theirs while the node itself is placed)."""
    depth: dict[int, int] = {}  # insertion order is Keras's `nodes_depths` order
    layer_depth: dict[int, int] = {}
    by_id = {id(node): node for node in nodes}
    for node in reversed(nodes):
        d = max(depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        depth[id(node)] = layer_depth[id(node.layer)] = d
        for t in parents(node):
            parent = id(producer(t))
            if parent in by_id:
                depth[parent] = max(d + 1, depth.get(parent, 0))
    return sorted((by_id[k] for k in depth), key=lambda node: -depth[id(node)])
