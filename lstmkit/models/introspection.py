"""What a model tells about itself, as Keras 3: `inputs`/`outputs`, `input`/`output`,
`input_shape`/`output_shape` and `get_layer`, with Keras's errors.

Functions here are bound as methods and properties of `Model` (functional.py).
"""

from __future__ import annotations

from typing import Any

from lstmkit.layers.base import ordered_leaves
from lstmkit.layers.symbolic import first_call


def _is_sequential(model: Any) -> bool:
    return type(model).__name__ == "Sequential" or "_stack" in model.__dict__


def _graph(model: Any, what: str) -> None:
    """Raise Keras's AttributeError when the model has no graph yet."""
    if not model.__dict__.get("_graph_ready"):
        kind = "Sequential model" if _is_sequential(model) else "Model"
        raise AttributeError(f"{kind} '{model.name}' has no defined {what} yet.")


def _get_inputs(model: Any) -> list:
    if "_inputs_list" not in model.__dict__:  # set first thing while the graph is recorded
        _graph(model, "inputs")
    return model.__dict__["_inputs_list"]


def _set_inputs(model: Any, value: list) -> None:
    model.__dict__["_inputs_list"] = value


def _get_outputs(model: Any) -> list:
    if "_outputs_list" not in model.__dict__:
        _graph(model, "outputs")
    return model.__dict__["_outputs_list"]


def _set_outputs(model: Any, value: list) -> None:
    model.__dict__["_outputs_list"] = value


inputs = property(_get_inputs, _set_inputs, doc="The model's Input tensors, a list (Keras).")
outputs = property(_get_outputs, _set_outputs, doc="The model's output tensors, a list (Keras).")


def _model_input(model: Any) -> Any:
    # A functional model: the structure given to the constructor (Keras's backward-compatible
    # `input`). A Sequential model is a layer like any other: its first call's input.
    if _is_sequential(model) or model.keras_style:
        return first_call(model, "input")
    _graph(model, "input")
    return model._input_struct


def _model_output(model: Any) -> Any:
    if _is_sequential(model) or model.keras_style:
        return first_call(model, "output")
    _graph(model, "output")
    return model._output_struct


model_input = property(_model_input, doc="Functional: the inputs given to Model(), as Keras.")
model_output = property(_model_output, doc="Functional: the outputs given to Model(), as Keras.")


def _shapes(model: Any, which: str) -> Any:
    _graph(model, f"{which} shape")
    shapes = [t.shape for t in model.__dict__[f"_{which}s_list"]]
    return shapes[0] if len(shapes) == 1 else shapes


input_shape = property(
    lambda model: _shapes(model, "input"),
    doc="The input shape (a list of shapes for several inputs), as Keras's functional models.",
)
output_shape = property(
    lambda model: _shapes(model, "output"),
    doc="The output shape (a list of shapes for several outputs), as Keras's functional models.",
)


def get_layer(model: Any, name: str | None = None, index: int | None = None) -> Any:
    """A layer by name or by index (Keras's order of `model.layers`), with Keras's errors."""
    if index is not None and name is not None:
        raise ValueError(
            f"Provide only a layer name or a layer index. Received: index={index}, name={name}."
        )
    layers = model.layers
    if index is not None:
        if len(layers) <= index:
            raise ValueError(
                f"Was asked to retrieve layer at index {index} but model only has "
                f"{len(layers)} layers."
            )
        return layers[index]
    if name is not None:
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}."
        )
    raise ValueError("Provide either a layer name or layer index at `get_layer`.")


def _variables(model: Any, trainable: bool) -> list:
    flags = ordered_leaves(model.trainable_mask())
    return [v for v, t in zip(model.variables, flags) if t == trainable]


trainable_variables = property(
    lambda model: _variables(model, True),
    doc="The Variables training changes, in `trainable_weights` order (Keras's "
    "`model.trainable_variables`, e.g. for `optimizer.build`).",
)
non_trainable_variables = property(
    lambda model: _variables(model, False),
    doc="The other Variables, in `non_trainable_weights` order.",
)
