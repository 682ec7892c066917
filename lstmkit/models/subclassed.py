"""Subclassed models: `class MyModel(lstmkit.Model)` with `__init__` and `call`, as in Keras 3.

Such a model has no graph of its own; its `call` runs purely like any Keras-style layer's (see
layers/calling.py). Training wants to know the model's inputs and outputs, so the first data
builds them: symbolic inputs shaped like the data (batch unknown), and one symbolic call of the
model on them, which also builds every sub-layer (Keras builds a subclassed model the same way,
from the first batch).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.layers import calling
from lstmkit.layers.core import Input
from lstmkit.layers.symbolic import tree_leaves
from lstmkit.layers.variables import StatelessScope


def _as_arrays(x: Any) -> tuple[list, bool]:
    """The input arrays as a list, and whether the model takes a list (several inputs)."""
    if isinstance(x, dict):
        raise ValueError("A subclassed model takes its inputs as an array or a list of arrays.")
    if isinstance(x, (list, tuple)):
        return [np.asarray(a) if not hasattr(a, "shape") else a for a in x], True
    return [np.asarray(x) if not hasattr(x, "shape") else x], False


def build_from_shape(model: Any, input_shape: Any) -> None:
    """`model.build(shape)`: build on float32 inputs of that shape (or list of shapes)."""
    several = isinstance(input_shape, list)
    shapes = input_shape if several else [input_shape]
    arrays = [np.zeros(tuple(1 if d is None else d for d in s), np.float32) for s in shapes]
    build_from_data(model, arrays if several else arrays[0])


def build_from_data(model: Any, x: Any) -> None:
    """Record `model.inputs`/`model.outputs` from data shaped like `x` (batch kept only for a
    stateful sub-layer), building the model and its sub-layers on the way."""
    if model.__dict__.get("_building"):
        return  # reached again through model.build while building
    model._building = True
    try:
        _build(model, x)
    finally:
        model._building = False


def _build(model: Any, x: Any) -> None:
    arrays, several = _as_arrays(x)
    stateful = any(getattr(layer, "stateful", False) for layer in model.layers)
    inputs = [
        Input(batch_shape=(a.shape[0] if stateful else None, *a.shape[1:]),
              dtype="int32" if np.issubdtype(a.dtype, np.integer) else "float32")
        for a in arrays
    ]  # fmt: skip
    structure = inputs if several else inputs[0]
    outputs = model(structure)  # symbolic: builds the model, then traces call
    model._input_struct, model._output_struct = structure, outputs
    model.inputs, model.outputs = inputs, tree_leaves(outputs)
    model._nodes = []  # no graph: summary lists the tracked layers instead
    model._build_shape = [t.shape for t in inputs] if several else inputs[0].shape
    model._graph_ready = True


def run(model: Any, params: Any, state: Any, inputs: Any, *, training: bool = False,
        mask: Any = None, key: Any = None) -> tuple:  # fmt: skip
    """Model.run for a subclassed model: (outputs, masks, new_state, losses, new_params), the
    outputs flat in the order of `model.outputs`."""
    with StatelessScope(model, params, state, training=training, key=key) as scope:
        out, new_state = calling.stateless_apply(
            model, params, state, inputs, training=training, mask=mask, key=key, extra={}
        )
    outputs = tree_leaves(out)
    return outputs, [None] * len(outputs), new_state, scope.total_loss(), scope.params_of(model)
