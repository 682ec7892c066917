"""The few Keras graph operations that Keras 3 records inside functional models of lstmkit's layers.

When a Keras functional model uses `Masking` or `Embedding(mask_zero=True)`, Keras records the
mask computation itself as operations in the graph (`keras.src.ops.numpy.NotEqual` and `Any`; after
merging layers also `LogicalOr`, and for Concatenate `ExpandDims`, `ZerosLike`, `OnesLike`,
`Concatenate`) and passes their output to later layers as `mask=`. A `.keras` file written by
Keras holds these operations; lstmkit reads them into these tiny weightless layers, so the graph
runs as Keras's did, and writes them back in Keras's form. Only these known operations are
accepted: nothing from a file is ever executed as code.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from lstmkit.layers.base import Layer


class MaskOp(Layer):
    """A weightless operation on a mask: built from the start, boolean out, no mask of its own."""

    keras_module = "keras.src.ops.numpy"  # where Keras's operation class lives

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


class ExpandDimsOp(MaskOp):
    """`expand_dims(mask, axis)`: Concatenate spreads an input's mask over its features."""

    keras_class_name = "ExpandDims"

    def __init__(self, axis: int = -1, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.axis = int(axis)

    def pure_call(self, params, inputs, **kwargs):
        return jnp.expand_dims(inputs, self.axis)

    def compute_output_shape(self, input_shape, **kwargs):
        shape = list(input_shape)
        shape.insert(self.axis % (len(shape) + 1), 1)
        return tuple(shape)

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        return [inputs], dict(kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis}


class _FillLikeOp(MaskOp):
    """`zeros_like(x, dtype="bool")` / `ones_like(...)`: the masks Concatenate builds."""

    fill = False

    def pure_call(self, params, inputs, **kwargs):
        return jnp.full(inputs.shape, self.fill, bool)

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        return [inputs], dict(kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": "bool"}


class ZerosLikeOp(_FillLikeOp):
    keras_class_name = "ZerosLike"


class OnesLikeOp(_FillLikeOp):
    keras_class_name = "OnesLike"
    fill = True


class LogicalOrOp(MaskOp):
    """`logical_or(a, b)`: the merging layers' output mask (Keras records both positionally)."""

    keras_class_name = "LogicalOr"

    def pure_call(self, params, inputs, **kwargs):
        return jnp.logical_or(inputs[0], inputs[1])

    def compute_output_shape(self, input_shape, **kwargs):
        a, b = (tuple(s) for s in input_shape)
        if len(a) < len(b):
            a, b = b, a
        b = (1,) * (len(a) - len(b)) + b  # numpy broadcasting; None stays unknown
        return tuple(j if i == 1 else i if j == 1 else (i if i is not None else j)
                     for i, j in zip(a, b))  # fmt: skip

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        return list(inputs), dict(kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


class ConcatenateOp(MaskOp):
    """`concatenate([masks], axis)`: Concatenate's mask before the final `any`."""

    keras_class_name = "Concatenate"

    def __init__(self, axis: int = 0, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.axis = int(axis)

    def pure_call(self, params, inputs, **kwargs):
        return jnp.concatenate(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape, **kwargs):
        out = list(input_shape[0])
        sizes = [s[self.axis] for s in input_shape]
        out[self.axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        return [list(inputs)], dict(kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis}


class ConvertToTensorOp(MaskOp):
    """`convert_to_tensor(mask)`: Keras records it when a layer after Attention takes its mask.
    A pass-through (or a cast when Keras recorded a dtype)."""

    keras_class_name = "ConvertToTensor"
    keras_module = "keras.src.ops.core"

    def __init__(self, dtype: str | None = None, sparse: bool | None = None,
                 ragged: bool | None = None, name: str | None = None, **kwargs: Any):  # fmt: skip
        if sparse or ragged:
            raise ValueError(
                f"Operation '{name}' (ConvertToTensor): sparse and ragged tensors are not "
                f"supported; got sparse={sparse}, ragged={ragged}."
            )
        super().__init__(name=name, **kwargs)
        self.to_dtype = dtype

    def output_dtype(self, input_dtype: str) -> str:
        return self.to_dtype or input_dtype

    def pure_call(self, params, inputs, **kwargs):
        return inputs if self.to_dtype is None else jnp.asarray(inputs).astype(self.to_dtype)

    def keras_args(self, inputs: Any, kwargs: dict) -> tuple[list, dict]:
        return [inputs], dict(kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.to_dtype, "sparse": None, "ragged": None}


# (Keras's module, class name) -> the layer that restates it.
OP_CLASSES = {(cls.keras_module, cls.keras_class_name): cls
              for cls in (NotEqualOp, AnyOp, ExpandDimsOp, ZerosLikeOp, OnesLikeOp, LogicalOrOp,
                          ConcatenateOp, ConvertToTensorOp)}  # fmt: skip


def is_op(layer: Any) -> bool:
    return isinstance(layer, MaskOp)
