"""Sequential: a stack of layers, built into a functional graph once its input shape is known."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.layers.base import Layer, is_shape
from lstmkit.layers.core import Input, InputLayer
from lstmkit.layers.symbolic import SymbolicTensor, is_symbolic
from lstmkit.models.files import file_function
from lstmkit.models.functional import Model


class Sequential(Model):
    """`Sequential([layers])` or `.add(layer)`; the input shape comes from an Input, a first
    layer's `input_shape`/`batch_input_shape`, or the first data it sees."""

    def __init__(
        self,
        layers: list | None = None,
        name: str | None = None,
        trainable: bool = True,
        **kwargs: Any,
    ):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack: list[Layer] = []
        self._input_batch_shape: tuple | None = None
        self._input_dtype = "float32"
        self._input_name: str | None = None  # an Input's name is kept, as Keras keeps it
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        if is_symbolic(layer) and isinstance(layer.node.layer, InputLayer):
            if self._stack:
                raise ValueError(f"Sequential '{self.name}': an Input must come first.")
            self._input_tensor = layer
            self._input_batch_shape = layer.shape
            self._input_dtype = layer.dtype
            self._input_name = layer.node.layer.name
            self._rebuild()
            return
        if isinstance(layer, InputLayer):
            return self.add(layer.output)
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Sequential '{self.name}': add() takes a layer, got {type(layer).__name__}."
            )
        if not self._stack and self._input_batch_shape is None and layer._batch_input_shape:
            self._input_batch_shape = layer._batch_input_shape
            if type(layer).__name__ == "Embedding":
                self._input_dtype = "int32"
        self._stack.append(layer)
        self._rebuild()

    def pop(self) -> Layer:
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}' has no layers to pop.")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def _rebuild(self) -> None:
        """(Re)record the graph when the input shape is known; otherwise wait for data."""
        self._graph_ready = False
        if self._input_batch_shape is None or not self._stack:
            self.__dict__.pop("_inputs_list", None)  # no graph: inputs/outputs undefined again
            self.__dict__.pop("_outputs_list", None)
            return
        inputs = self.__dict__.get("_input_tensor")
        if inputs is None or (inputs.shape, inputs.dtype) != (
            tuple(self._input_batch_shape), self._input_dtype):  # fmt: skip
            # One Input kept across add()/pop(), as Keras: `layer.output` (the first call) then
            # stays in the graph `model.inputs` starts, for Model(model.inputs, layer.output).
            inputs = Input(
                batch_shape=self._input_batch_shape, dtype=self._input_dtype, name=self._input_name
            )
            self._input_tensor = inputs
        x = inputs
        for layer in self._stack:
            x = layer(x)
            if isinstance(x, list):
                raise ValueError(
                    f"Sequential '{self.name}': layer '{layer.name}' returns several tensors "
                    "(return_state=True?); a Sequential model needs one output per layer."
                )
        self._init_graph(inputs, x)

    def build_from_data(self, x: Any) -> None:
        """Build an unbuilt stack from the first data: batch kept only if a layer is stateful."""
        if self._graph_ready:
            return
        if not self._stack:
            raise ValueError(f"Sequential '{self.name}' has no layers.")
        a = np.asarray(x) if not hasattr(x, "shape") else x
        stateful = any(getattr(layer, "stateful", False) for layer in self._stack)
        self._input_batch_shape = (a.shape[0] if stateful else None, *a.shape[1:])
        self._input_dtype = "int32" if np.issubdtype(a.dtype, np.integer) else "float32"
        self._rebuild()

    def build(self, input_shape: Any = None) -> None:
        if input_shape is not None and not self._graph_ready:
            self._input_batch_shape = tuple(input_shape)
            self._rebuild()

    def maybe_build(self, input_shape: Any) -> None:
        if not self._graph_ready and is_shape(input_shape):
            stateful = any(getattr(layer, "stateful", False) for layer in self._stack)
            self._input_batch_shape = (input_shape[0] if stateful else None, *input_shape[1:])
            self._rebuild()
        self.check_input(input_shape)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._graph_ready and not isinstance(inputs, SymbolicTensor):
            self.build_from_data(inputs)
        elif not self._graph_ready:
            self.maybe_build(inputs.shape)
        return super().__call__(inputs, *args, **kwargs)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict | None = None) -> Sequential:
        """A Sequential model from `get_config()`'s dict (fresh weights), as Keras."""
        return file_function("model_from_config")("Sequential", config, custom_objects)
