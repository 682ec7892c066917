"""Model: a graph of layer calls recorded on symbolic tensors, run as one pure function."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import legacy
from lstmkit.layers.base import Layer, is_shape, ordered_leaves, to_arrays, unique_name
from lstmkit.layers.calling import CallArgs
from lstmkit.layers.core import InputLayer
from lstmkit.layers.symbolic import Node, SymbolicTensor, is_symbolic, tree_leaves
from lstmkit.layers.variables import StatelessScope
from lstmkit.models import introspection, stream, subclassed, training_api
from lstmkit.models.files import file_function
from lstmkit.models.layer_order import keras_order
from lstmkit.models.legacy_generators import (  # Keras 2's generator methods (text branch)
    evaluate_generator,
    fit_generator,
    predict_generator,
)


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _producer(t: SymbolicTensor) -> Node:
    if t.node is None:
        raise ValueError(f"Tensor {t!r} was not produced by a layer or Input.")
    return t.node


def _check_inputs(nodes: list[Node], inputs: list[SymbolicTensor]) -> None:
    input_nodes = {id(t.node) for t in inputs}
    for node in nodes:
        if isinstance(node.layer, InputLayer) and id(node) not in input_nodes:
            raise ValueError(
                f"Output depends on Input '{node.layer.name}', which is not among the model's "
                f"inputs {[t.node.layer.name for t in inputs]}."
            )


class Model(Layer):
    """`Model(inputs, outputs)`: the layers between symbolic inputs and outputs, as Keras 3."""

    def __init__(
        self,
        inputs: Any = None,
        outputs: Any = None,
        name: str | None = None,
        trainable: bool = True,
        **kwargs: Any,
    ):
        if "input" in kwargs or "output" in kwargs:
            kwargs = legacy.rename_arguments("Model", "Model", kwargs)
            inputs = kwargs.pop("inputs", inputs)
            outputs = kwargs.pop("outputs", outputs)
        if name is None and type(self) is Model:
            name = unique_name("functional")  # Keras 3's default name for functional models
        super().__init__(name=name, trainable=trainable, **kwargs)
        training_api.init(self)
        self._graph_ready = False
        if inputs is not None or outputs is not None:
            self._init_graph(inputs, outputs)

    # ----- the graph -----------------------------------------------------------------------------
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        if inputs is None or outputs is None:
            raise ValueError("Model: give both `inputs` and `outputs` (symbolic tensors).")
        for t in tree_leaves((inputs, outputs)):
            if not is_symbolic(t):
                raise ValueError(
                    f"Model: inputs and outputs must be symbolic tensors from lstmkit.Input and "
                    f"layer calls, got {type(t).__name__}."
                )
        self._input_struct, self._output_struct = inputs, outputs
        self.inputs = _as_list(inputs)
        self.outputs = tree_leaves(outputs)
        for t in self.inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"Model: inputs must come from lstmkit.Input, got {t!r}.")
        self._nodes, layers = keras_order(
            self.inputs, self.outputs, _producer, lambda node: node.parent_tensors
        )
        _check_inputs(self._nodes, self.inputs)
        self._sublayers = {}
        for layer in layers:
            if layer.name in self._sublayers:
                raise ValueError(
                    f"Model '{self.name}': two different layers are named '{layer.name}'; "
                    "layer names must be unique."
                )
            self.track(layer.name, layer)
        self.built = True
        self._build_shape = [t.shape for t in self.inputs]
        self._graph_ready = True
        self._jitted = {}

    @property
    def layers(self) -> list[Layer]:
        return list(self._sublayers.values())

    get_layer = introspection.get_layer
    inputs = introspection.inputs
    outputs = introspection.outputs
    input = introspection.model_input
    output = introspection.model_output
    input_shape = introspection.input_shape
    output_shape = introspection.output_shape
    trainable_variables = introspection.trainable_variables
    non_trainable_variables = introspection.non_trainable_variables

    # ----- running it ----------------------------------------------------------------------------
    def check_input(self, shape: Any) -> None:
        if self.keras_style and not self._graph_ready:
            return  # a subclassed model learns its inputs from the first data
        shapes = [shape] if is_shape(shape) else list(shape)
        if len(shapes) != len(self.inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.inputs)} input(s), got {len(shapes)}."
            )
        for t, s in zip(self.inputs, shapes):
            if (
                not is_shape(s)
                or len(s) != len(t.shape)
                or any(a is not None and a != b for a, b in zip(t.shape[1:], s[1:]))
            ):
                raise ValueError(
                    f"Model '{self.name}': input '{t.node.layer.name}' expects shape "
                    f"{t.shape}, got {s}."
                )

    def apply(self, params, state, inputs, *, training=False, mask=None, key=None, **kwargs):
        """Run every node in order: (params, state, inputs) -> (outputs, new_state)."""
        if self.keras_style:  # a subclassed model: its own call, run purely
            return super().apply(params, state, inputs, training=training, mask=mask, key=key,
                                 **kwargs)  # fmt: skip
        outputs, _, new_state, _, _ = self.run(
            params, state, inputs, training=training, mask=mask, key=key
        )
        structure = jax.tree_util.tree_structure(self._output_struct, is_leaf=is_symbolic)
        return jax.tree_util.tree_unflatten(structure, outputs), new_state

    def run(self, params, state, inputs, *, training=False, mask=None, key=None, record=None):
        """The graph, pure: -> (outputs, their masks, new_state, activity-regularizer loss,
        new_params). `new_params` is `params` with any weight a layer assigned during the call
        (a Keras-style non-trainable weight updated in `call`) replaced by its new value.

        `record`, a dict, receives each layer's (layer, inputs, mask, call keywords): the glass
        box uses it to see what every recurrent layer was fed.
        """
        if self.keras_style:
            return subclassed.run(self, params, state, inputs, training=training, mask=mask,
                                  key=key)  # fmt: skip
        with StatelessScope(self, params, state, training=training, key=key) as scope:
            outputs, masks, new_state, loss = self._run_nodes(
                scope, params, state, inputs, training, mask, key, record
            )
        return outputs, masks, new_state, loss + scope.total_loss(), scope.params_of(self)

    def _run_nodes(self, scope, params, state, inputs, training, mask, key, record):
        values: dict[int, tuple[Any, Any]] = {}  # id(SymbolicTensor) -> (value, mask)
        given = _as_list(inputs) if len(self.inputs) > 1 else [inputs]
        masks = _as_list(mask) if mask is not None else [None] * len(self.inputs)
        for t, v, m in zip(self.inputs, given, masks):
            if hasattr(v, "astype") and v.dtype != t.dtype:
                v = v.astype(t.dtype)  # as Keras: data take their Input's dtype (ints -> float32)
            values[id(t)] = (v, m)
        new_state = dict(state)
        activity_loss = jnp.zeros((), jnp.float32)
        keys = iter(jax.random.split(key, len(self._nodes)) if key is not None else [])
        for node in self._nodes:
            layer = node.layer
            if isinstance(layer, InputLayer):
                continue
            x = _fill(node.inputs, values, 0)
            in_mask = _fill(node.inputs, values, 1)
            kw = {k: _fill(v, values, 0) for k, v in node.kwargs.items() if k != "training"}
            node_mask = kw.pop("mask", None)
            if (
                node_mask is None
            ):  # one mask per input for layers that take several (merging, Attention)
                several = isinstance(in_mask, list) and not getattr(layer, "masks_per_input", 0)
                node_mask = in_mask[0] if several else in_mask
            if record is not None:
                record[layer.name] = (layer, x, node_mask, kw)
            out, new_state[layer.name] = layer.apply(
                scope.params_of(layer),  # the inputs' values, or what an earlier call assigned
                new_state[layer.name],
                x,
                training=node.kwargs.get("training", training),
                mask=node_mask,
                key=next(keys, None),
                **kw,
            )
            activity_loss = activity_loss + layer.activity_loss(out)
            out_mask = layer.compute_mask(x, node_mask)
            out_t = tree_leaves(node.outputs)
            out_v = jax.tree_util.tree_leaves(out)
            if not (isinstance(out_mask, list) and len(out_mask) == len(out_t)):
                out_mask = [out_mask if not isinstance(out_mask, list) else None] * len(out_t)
            for t, v, m in zip(out_t, out_v, out_mask):
                values[id(t)] = (v, m)
        outputs = [values[id(t)][0] for t in self.outputs]
        masks_out = [values[id(t)][1] for t in self.outputs]
        return outputs, masks_out, new_state, activity_loss

    def build(self, input_shape: Any = None) -> None:
        """A subclassed model built for inputs of `input_shape` (Keras's model.build)."""
        if self.keras_style and not self._graph_ready and input_shape is not None:
            subclassed.build_from_shape(self, input_shape)

    def build_from_data(self, x: Any) -> None:
        """A subclassed model's inputs and outputs, from the first data (see subclassed.py)."""
        if self.keras_style and not self._graph_ready:
            subclassed.build_from_data(self, x)

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        if self.keras_style:
            return super().compute_output_shape(input_shape, **kwargs)
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if not isinstance(self._output_struct, (list, tuple)) else shapes

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        return None

    @property
    def supports_masking(self) -> bool:
        return False

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if any(is_symbolic(t) for t in tree_leaves(inputs)):
            return super().__call__(inputs, *args, **kwargs)
        out = super().__call__(to_arrays(inputs, False), *args, **kwargs)
        # Called on arrays, Keras 3 unpacks a one-output list (`outputs=[y]`) to the array.
        return out[0] if isinstance(out, list) and len(out) == 1 else out

    # ----- state of stateful layers ---------------------------------------------------------------
    def reset_states(self) -> None:
        """Zero the carried states of every stateful layer (Keras 3 lacks this on models)."""
        for layer in self.layers:
            if hasattr(layer, "reset_state"):
                layer.reset_state()

    reset_state = reset_states

    def get_states(self) -> dict[str, list[np.ndarray]]:
        """The carried states of every stateful layer, by layer name, as numpy arrays."""
        return {
            name: [np.asarray(s) for s in ordered_leaves(st)]
            for name, st in self.state.items()
            if ordered_leaves(st)
        }

    def set_states(self, states: dict[str, list]) -> None:
        """Set carried states by layer name (the structure `get_states` returns)."""
        for name, values in states.items():
            layer = self.get_layer(name)
            if not hasattr(layer, "reset_state"):
                raise ValueError(f"Model '{self.name}': layer '{name}' carries no state.")
            layer.reset_state(list(values))

    def stream(self, batch_size: int = 1) -> stream.Streamer:
        """One time step at a time, recurrent states kept on the device (models/stream.py)."""
        return stream.Streamer(self, batch_size)

    def get_config(self) -> dict[str, Any]:
        if self.keras_style:
            return super().get_config()
        return file_function("model_config")(self)  # Keras's config, written by lstmkit.saving

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Model:
        """A model from `get_config()`'s dict: a graph config is rebuilt (freshly initialized
        weights), anything else goes to the constructor, as Keras."""
        if not {"layers", "input_layers", "output_layers"} <= set(config):
            return cls(**config)
        return file_function("model_from_config")("Functional", config, custom_objects)

    def to_json(self, **kwargs: Any) -> str:
        """The model's configuration as JSON (`models.model_from_json` reads it back)."""
        return file_function("model_to_json")(self, **kwargs)

    # Training, evaluation and prediction live in training_api.py (plain functions, bound here).
    compile = training_api.compile
    fit = training_api.fit
    evaluate = training_api.evaluate
    predict = training_api.predict
    train_on_batch = training_api.train_on_batch
    test_on_batch = training_api.test_on_batch
    predict_on_batch = training_api.predict_on_batch
    predict_classes = training_api.predict_classes
    # Keras 2's generator methods (text branch): warn, then fit / evaluate / predict.
    fit_generator = fit_generator
    evaluate_generator = evaluate_generator
    predict_generator = predict_generator
    summary = training_api.summary

    # Keras 3 files: the formats live in lstmkit/saving/ (above models), found through files.py.
    def save(self, filepath: Any, overwrite: bool = True, **kwargs: Any) -> None:
        """Save to a Keras 3 `.keras` file: config, weights and optimizer state."""
        file_function("save_model")(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath: Any, overwrite: bool = True) -> None:
        """Save the weights (and optimizer state) in Keras 3's `.weights.h5` layout."""
        file_function("save_weights")(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: Any, skip_mismatch: bool = False) -> None:
        """Load a `.weights.h5` or `.keras` file's weights; all are checked before any changes."""
        file_function("load_weights")(self, filepath, skip_mismatch=skip_mismatch)

    def export(self, filepath: Any, format: str = "onnx", verbose: Any = None,
               input_signature: Any = None, **kwargs: Any) -> None:  # fmt: skip
        """Export for inference; `format="onnx"` (the only one here) writes an ONNX file with
        native LSTM/GRU/RNN operators (lstmkit/export/; `opset_version=`, `streaming=`)."""
        if format != "onnx":
            raise ValueError(
                f"Model.export: format={format!r} is not supported by lstmkit; use format='onnx'."
            )
        if input_signature is not None:
            raise ValueError(
                "Model.export: `input_signature` is not supported; the ONNX graph takes the "
                "model's Input shapes, with dynamic batch and time axes."
            )
        opset = kwargs.pop("opset_version", None) or kwargs.pop("opset", None)
        opset_kw = {} if opset is None else {"opset": opset}
        file_function("export_onnx")(self, filepath, **opset_kw, **kwargs)
        if verbose:
            print(f"Saved ONNX model to {filepath}")


def _fill(structure: Any, values: dict, which: int) -> Any:
    """Replace symbolic tensors in `structure` by their values (which=0) or masks (which=1)."""
    if is_symbolic(structure):
        return values[id(structure)][which]
    if isinstance(structure, CallArgs):  # several positional inputs stay several
        return CallArgs((_fill(s, values, which) for s in structure), structure.keywords)
    if isinstance(structure, (list, tuple)):
        return [_fill(s, values, which) for s in structure]
    return structure if which == 0 else None
