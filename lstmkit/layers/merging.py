"""Merging layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and
their lowercase functional forms (`add([a, b])`), as Keras 3 has them.

Each is called on a list of tensors. Masks arrive as a list beside the inputs (the functional
model passes one per input, `masks_per_input`), and the output mask is Keras's: the elementwise
layers OR the inputs' masks when every input has one, Concatenate ORs them over the joined axis,
Dot drops them.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from lstmkit import ops
from lstmkit.layers.base import Layer


def _elementwise_shape(name: str, a: tuple | None, b: tuple | None) -> tuple | None:
    """Broadcast two shapes (without batch) from the right, as Keras's merge layers do."""
    if a is None or b is None:
        return None
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return tuple(a)
    out = list(a[: len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b) :], b):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1:
            out.append(j if i == 1 else i)
        elif i != j:
            raise ValueError(
                f"Layer '{name}': inputs have incompatible shapes {a} and {b} (each axis must "
                "match or be 1)."
            )
        else:
            out.append(i)
    return tuple(out)


class Merge(Layer):
    """Base of the elementwise merging layers: a list of inputs in, one tensor out."""

    supports_masking = True
    masks_per_input = True  # the functional model hands `mask` as a list, one per input
    min_inputs = 1

    def _check_list(self, input_shape: Any) -> list:
        if not isinstance(input_shape, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) should be called on a list of "
                f"inputs, e.g. {type(self).__name__}()([a, b]); got input shape {input_shape}."
            )
        if len(input_shape) < self.min_inputs:
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) should be called on a list of at "
                f"least {self.min_inputs} inputs; got {len(input_shape)}."
            )
        return [tuple(s) for s in input_shape]

    def build(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(
                f"Layer '{self.name}': cannot merge tensors with different batch sizes; got "
                f"shapes {shapes}."
            )
        self.compute_output_shape(shapes)

    def check_input(self, shape: Any) -> None:
        self._check_list(shape)

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> tuple:
        shapes = self._check_list(input_shape)
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = _elementwise_shape(self.name, out, s[1:])
        batches = {s[0] for s in shapes} - {None}
        return (batches.pop() if len(batches) == 1 else None, *out)

    def pure_call(self, params, inputs, *, mask=None, **kwargs):
        if not isinstance(inputs, (list, tuple)):
            self._check_list(getattr(inputs, "shape", inputs))
        inputs = list(inputs)
        rank = max(x.ndim for x in inputs)
        # Keras expands lower-rank inputs at axis 1 (after the batch) until the ranks agree.
        inputs = [x.reshape((x.shape[0],) + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]
        masks = list(mask) if isinstance(mask, (list, tuple)) else [None] * len(inputs)
        return self.merge(inputs, masks)

    def merge(self, inputs: list, masks: list) -> Any:
        raise NotImplementedError

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        if not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None  # Keras: only when every input carries a mask
        out = mask[0]
        for m in mask[1:]:
            out = jnp.logical_or(out, m)
        return out

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}


def _expand_mask(m: Any, x: Any) -> Any:
    """A (batch, time) mask broadcast to the feature axes of `x`."""
    return jnp.broadcast_to(jnp.expand_dims(m, -1), x.shape)


class Add(Merge):
    """The sum of the inputs."""

    def merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(Merge):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    min_inputs = 2

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' (Subtract) should be called on exactly 2 inputs; got "
                f"{len(input_shape)}."
            )

    def merge(self, inputs, masks):
        return inputs[0] - inputs[1]


class Average(Merge):
    """The mean of the inputs."""

    def merge(self, inputs, masks):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Multiply(Merge):
    """The product of the inputs; masked positions count as 1 (all masked: 0), as Keras."""

    def merge(self, inputs, masks):
        all_masked = all(m is not None for m in masks)
        out, out_mask = None, None
        for x, m in zip(inputs, masks):
            if m is not None:
                m = _expand_mask(m, x)
                x = jnp.where(m, x, jnp.ones((), x.dtype))
                if all_masked:
                    out_mask = m if out_mask is None else jnp.logical_or(out_mask, m)
            out = x if out is None else out * x
        if all_masked:
            out = jnp.where(out_mask, out, jnp.zeros((), out.dtype))
        return out


class _MaskedExtremum(Merge):
    """Maximum/Minimum: a masked position takes the other operand's value (Keras's rule)."""

    def op(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def merge(self, inputs, masks):
        out, out_mask = None, None
        for x, m in zip(inputs, masks):
            m = None if m is None else _expand_mask(m, x)
            if out is None:
                out, out_mask = x, m
                continue
            if m is not None:
                x = jnp.where(m, x, out)
            if out_mask is not None:
                out = jnp.where(out_mask, out, x)
            out_mask = None if m is None or out_mask is None else jnp.logical_or(out_mask, m)
            out = self.op(out, x)
        return out


class Maximum(_MaskedExtremum):
    """The elementwise maximum of the inputs."""

    def op(self, a, b):
        return jnp.maximum(a, b)


class Minimum(_MaskedExtremum):
    """The elementwise minimum of the inputs."""

    def op(self, a, b):
        return jnp.minimum(a, b)


class Concatenate(Merge):
    """The inputs joined along `axis`."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def build(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) requires inputs of the same rank; got "
                f"shapes {shapes}."
            )
        axis = self.axis % len(shapes[0])
        for i in range(len(shapes[0])):
            sizes = {s[i] for s in shapes} - {None}
            if i != axis and len(sizes) > 1:
                raise ValueError(
                    f"Layer '{self.name}' (Concatenate) requires inputs with matching shapes "
                    f"except on the concatenation axis {self.axis}; got shapes {shapes}."
                )

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> tuple:
        shapes = self._check_list(input_shape)
        out = list(shapes[0])
        for s in shapes[1:]:
            if out[self.axis] is None or s[self.axis] is None:
                out[self.axis] = None
                break
            out[self.axis] += s[self.axis]
        return tuple(out)

    def pure_call(self, params, inputs, *, mask=None, **kwargs):
        return jnp.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        if not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):  # each mask spread over its input's shape, then joined
            if m is None:
                m = jnp.ones(x.shape, bool)
            elif m.ndim < x.ndim:
                m = _expand_mask(m, x)
            full.append(m)
        return jnp.any(jnp.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


def _dot_axes(name: str, axes: Any, rank1: int, rank2: int) -> list[int]:
    """Keras's `axes` (an int, or one per input) as positive axes of each input."""
    if isinstance(axes, int):
        pair = [axes % rank1, axes % rank2] if axes < 0 else [axes, axes]
    else:
        pair = [a % r if a < 0 else a for a, r in zip(axes, (rank1, rank2))]
    if 0 in pair:
        raise ValueError(f"Layer '{name}' (Dot): cannot take the dot product over the batch "
                         f"axis 0; got axes={axes}.")  # fmt: skip
    return pair


class Dot(Merge):
    """The batchwise dot product of two inputs over `axes` (cosine proximity with
    `normalize=True`)."""

    min_inputs = 2

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Layer '{self.name}' (Dot): `axes` should be an int or a pair "
                                f"of ints; got axes={axes!r}.")  # fmt: skip
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Layer '{self.name}' (Dot): `axes` should hold two ints; "
                                 f"got axes={axes!r}.")  # fmt: skip
        self.axes = axes if isinstance(axes, int) else tuple(axes)
        self.normalize = bool(normalize)

    def build(self, input_shape: Any) -> None:
        shapes = self._check_list(input_shape)
        if len(shapes) != 2:
            raise ValueError(f"Layer '{self.name}' (Dot) should be called on a list of 2 inputs;"
                             f" got {len(shapes)}.")  # fmt: skip
        a0, a1 = _dot_axes(self.name, self.axes, len(shapes[0]), len(shapes[1]))
        d0, d1 = shapes[0][a0], shapes[1][a1]
        if d0 is not None and d1 is not None and d0 != d1:
            raise ValueError(
                f"Layer '{self.name}' (Dot): incompatible input shapes: axis {a0} of the first "
                f"({d0}) != axis {a1} of the second ({d1}); shapes {shapes}."
            )

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> tuple:
        s1, s2 = (list(s) for s in self._check_list(input_shape))
        a0, a1 = _dot_axes(self.name, self.axes, len(s1), len(s2))
        s1.pop(a0)
        s2.pop(a1)
        out = s1 + s2[1:]
        return tuple(out + [1] if len(out) == 1 else out)

    def pure_call(self, params, inputs, *, mask=None, **kwargs):
        x, y = inputs
        a0, a1 = _dot_axes(self.name, self.axes, x.ndim, y.ndim)
        if self.normalize:
            x, y = ops.normalize(x, axis=a0), ops.normalize(y, axis=a1)
        # contract axis a0 of x with axis a1 of y, sample by sample: (batch, x's rest, y's rest)
        y_axes = [0] + [a0 if i == a1 else x.ndim + i for i in range(1, y.ndim)]
        out_axes = [i for i in range(x.ndim) if i != a0] + [a for a in y_axes[1:] if a != a0]
        out = jnp.einsum(x, list(range(x.ndim)), y, y_axes, out_axes)
        return out.reshape(self.compute_output_shape([x.shape, y.shape]))

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def add(inputs: list, **kwargs: Any) -> Any:
    """`Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    """`Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    """`Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    """`Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    """`Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    """`Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """`Concatenate(axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: Any = -1, **kwargs: Any) -> Any:
    """`Dot(axes, **kwargs)(inputs)`."""
    return Dot(axes=axes, **kwargs)(inputs)
