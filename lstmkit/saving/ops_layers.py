"""The few Keras graph operations that Keras 3 records inside functional models of lstmkit's layers.

When a Keras functional model uses `Masking` or `Embedding(mask_zero=True)`, Keras records the
mask computation itself as operations in the graph (`keras.src.ops.numpy.NotEqual` and `Any`) and
passes their output to later layers as `mask=`. A `.keras` file written by Keras holds these
operations; lstmkit reads them into these tiny weightless layers, so the graph runs as Keras's did,
and writes them back in Keras's form. Only these known operations are accepted: nothing from a
file is ever executed as code.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from lstmkit.layers.base import Layer

OPS_MODULE = "keras.src.ops.numpy"


class MaskOp(Layer):
    """A weightless operation on a mask: built from the start, boolean out, no mask of its own."""

    def __init__(self, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.built = True

    def output_dtype(self, input_dtype: str) -> str:
        return "bool"

    def compute_mask(self, inputs, mask):
        return None


class NotEqualOp(MaskOp):
    """`x != value` elementwise (Keras's mask of Embedding(mask_zero) and, with Any, Masking)."""

    keras_class_name = "NotEqual"

    def pure_call(self, params, inputs, *, value=0, **kwargs):
        return jnp.not_equal(inputs, value)

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        """Keras records the call as `not_equal(x, value)`: both positional."""
        rest = {k: v for k, v in kwargs.items() if k != "value"}
        return [inputs, kwargs.get("value", 0)], rest

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


class AnyOp(MaskOp):
    """`any(x, axis, keepdims)`: Masking's mask is any(not_equal(x, mask_value), axis=-1)."""

    keras_class_name = "Any"

    def __init__(self, axis: Any = None, keepdims: bool = False, name: str | None = None,
                 **kwargs: Any):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.axis = tuple(axis) if isinstance(axis, list) else axis
        self.keepdims = bool(keepdims)

    def pure_call(self, params, inputs, **kwargs):
        return jnp.any(inputs, axis=self.axis, keepdims=self.keepdims)

    def compute_output_shape(self, input_shape, **kwargs):
        rank = len(input_shape)
        axes = range(rank) if self.axis is None else self.axis
        axes = {a % rank for a in (axes if isinstance(axes, (tuple, range)) else [axes])}
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        return [inputs], dict(kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis, "keepdims": self.keepdims}


OP_CLASSES = {"NotEqual": NotEqualOp, "Any": AnyOp}


def is_op(layer: Any) -> bool:
    return isinstance(layer, MaskOp)
