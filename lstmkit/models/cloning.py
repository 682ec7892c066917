"""`models.clone_model`: the same graph on new layers with freshly initialized weights, as
Keras 3's `keras.models.clone_model`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lstmkit import optimizers
from lstmkit.layers.base import Layer
from lstmkit.layers.calling import CallArgs
from lstmkit.layers.core import Input, InputLayer
from lstmkit.layers.symbolic import is_symbolic, tree_leaves
from lstmkit.models.functional import Model
from lstmkit.models.layer_order import keras_run_order
from lstmkit.models.sequential import Sequential


def _fresh_copy(layer: Layer) -> Layer:
    """Keras's default clone_function: the layer rebuilt from its config (no weights copied)."""
    return type(layer).from_config(layer.get_config())


def _cached(clone_function: Callable | None, recursive: bool, call_function: Any) -> Callable:
    """Clone each layer once (a shared layer stays shared); nested models recursively if asked."""
    fn = clone_function or _fresh_copy
    cache: dict[int, Layer] = {}

    def clone(layer: Layer) -> Layer:
        if id(layer) not in cache:
            if recursive and isinstance(layer, Model) and not layer.keras_style:
                calls = None if isinstance(layer, Sequential) else call_function
                cache[id(layer)] = clone_model(layer, None, clone_function, calls, True)
            else:
                cache[id(layer)] = fn(layer)
        return cache[id(layer)]

    return clone


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: Callable | None = None,
    call_function: Callable | None = None,
    recursive: bool = False,
) -> Model:
    """A new model of the same structure: each layer from `clone_function(layer)` (default:
    `type(layer).from_config(layer.get_config())`, fresh weights), on new Inputs or on
    `input_tensors`; `call_function(layer, *args, **kwargs)` replaces each call (functional)."""
    if not isinstance(model, Model):
        raise ValueError(f"clone_model: expected a Model, got {type(model).__name__}.")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(
            "Expected `clone_function` argument to be a callable. "
            f"Received: clone_function={clone_function}"
        )
    clone = _cached(clone_function, recursive, call_function)
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError(
                "`call_function` argument is not supported with Sequential models. In a "
                "Sequential model, layers aren't called at model-construction time (they're "
                "merely listed). Use `call_function` with Functional models only."
            )
        return _clone_sequential(model, clone, input_tensors)
    if model.keras_style:  # a subclassed model: from its own config, as Keras
        if clone_function is not None or input_tensors is not None:
            raise ValueError(
                "Arguments `clone_function` and `input_tensors` are only supported for "
                f"Sequential models or Functional models. Received model of type "
                f"'{type(model).__name__}'."
            )
        return type(model).from_config(model.get_config())
    if not model._graph_ready:
        raise ValueError(f"clone_model: model '{model.name}' has no graph yet; build it first.")
    return _clone_functional(model, clone, input_tensors, call_function)


def _clone_sequential(model: Sequential, clone: Callable, input_tensors: Any) -> Sequential:
    new_layers: list[Any] = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError("Argument `input_tensors` must contain a single tensor.")
            input_tensors = input_tensors[0]
        if not is_symbolic(input_tensors):
            raise ValueError(
                "Argument `input_tensors` must be a KerasTensor. "
                f"Received invalid value: input_tensors={input_tensors}"
            )
        new_layers.insert(0, input_tensors)
    elif model._graph_ready:
        (old,) = model.inputs
        new_layers.insert(
            0, Input(batch_shape=old.shape, dtype=old.dtype, name=old.node.layer.name)
        )
    cloned = Sequential(new_layers, name=model.name, trainable=model.trainable)
    args = model._compile_args
    if args is not None and model.optimizer is not None:  # Sequential clones keep compile
        optimizer = optimizers.get(optimizers.serialize(model.optimizer))  # fresh state
        cloned.compile(
            optimizer=optimizer,
            loss=args["loss"],
            loss_weights=args["loss_weights"],
            metrics=args["metrics"],
            weighted_metrics=args.get("weighted_metrics"),
        )
    return cloned


def _clone_functional(model: Model, clone: Callable, input_tensors: Any, call_function: Any):
    if input_tensors is None:
        new_inputs = [Input(batch_shape=t.shape, dtype=t.dtype, name=t.node.layer.name)
                      for t in model.inputs]  # fmt: skip
        structure = model._input_struct
        input_tensors = new_inputs if isinstance(structure, (list, tuple)) else new_inputs[0]
    else:
        new_inputs = tree_leaves(input_tensors)
        if len(new_inputs) != len(model.inputs) or not all(map(is_symbolic, new_inputs)):
            raise ValueError(
                "`input_tensors` must have the same structure as model.input\n"
                f"Reference structure: {model.input}\nReceived structure: {input_tensors}"
            )
    mapped = {id(old): new for old, new in zip(model.inputs, new_inputs)}

    def swap(value: Any) -> Any:
        if is_symbolic(value):
            return mapped[id(value)]
        if isinstance(value, CallArgs):
            return CallArgs(swap(v) for v in value)
        if isinstance(value, (list, tuple)):
            return type(value)(swap(v) for v in value)
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    # Keras's call order: a shared layer's clone records its calls (nodes) in Keras's order
    for node in keras_run_order(model._nodes, lambda t: t.node, lambda n: n.parent_tensors):
        if isinstance(node.layer, InputLayer):
            continue
        layer = clone(node.layer)
        args = swap(node.inputs)
        args = list(args) if isinstance(args, CallArgs) else [args]
        kwargs = swap(node.kwargs)
        outputs = (call_function or _call)(layer, *args, **kwargs)
        for old, new in zip(tree_leaves(node.outputs), tree_leaves(outputs)):
            mapped[id(old)] = new
    outputs = swap(model._output_struct)
    return Model(input_tensors, outputs, name=model.name)


def _call(layer: Layer, *args: Any, **kwargs: Any) -> Any:
    return layer(*args, **kwargs)
