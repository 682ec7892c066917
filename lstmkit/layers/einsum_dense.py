"""EinsumDense: a dense layer whose product is any einsum equation (Keras 3's layer; the
projections inside MultiHeadAttention).

`EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de")` maps (batch, T, 4)
inputs to (batch, T, 2, 3) with a (4, 2, 3) kernel and a (2, 3) bias, as Keras builds them.
"""

from __future__ import annotations

import re
from typing import Any

import jax.numpy as jnp

from lstmkit import constraints, initializers, regularizers
from lstmkit.kernels import activations
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import resolve


def _ser(module: Any, obj: Any) -> Any:
    return module.serialize(module.get(obj))


def analyze_equation(layer: str, equation: str, bias_axes: str | None, input_shape: tuple,
                     output_shape: tuple) -> tuple[tuple, tuple | None, tuple]:  # fmt: skip
    """(kernel shape, bias shape or None, full output shape) for inputs of `input_shape`, by
    Keras's rules: `...` may stand for leading or trailing input axes."""
    eq = equation.replace("...", "0")
    forms = [(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", None),
             (r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$", "left"),
             (r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$", "right")]  # fmt: skip
    found = [(m, side) for pattern, side in forms if (m := re.match(pattern, eq))]
    if not found:
        raise ValueError(
            f"Layer '{layer}': invalid einsum equation {equation!r}; expected the form "
            "'[X],[Y]->[Z]', '...[X],[Y]->...[Z]' or '[X]...,[Y]->[Z]...'."
        )
    match, elided_side = found[0]
    in_spec, w_spec, out_spec = match.groups()
    elided = len(input_shape) - len(in_spec)
    out = [input_shape[0], *output_shape]
    if elided > 0 and elided_side == "left":
        out[1:1] = list(input_shape[1:elided])
    elif elided > 0:
        out += list(input_shape[len(input_shape) - elided :])
    left = elided if elided_side == "left" else 0
    in_axis = {d: i + left for i, d in enumerate(in_spec)}
    out_axis = {d: i + left for i, d in enumerate(out_spec)}
    for d in in_spec:
        if d in out_axis and out[out_axis[d]] is not None and out[out_axis[d]] != input_shape[
                in_axis[d]]:  # fmt: skip
            raise ValueError(
                f"Layer '{layer}': input and output shapes differ at shared dimension '{d}': "
                f"input {input_shape[in_axis[d]]}, output {out[out_axis[d]]}."
            )
    for d in in_spec:  # shared dims copy the input's size into the output
        if d in out_axis:
            out[out_axis[d]] = input_shape[in_axis[d]]
    kernel = []
    for d in w_spec:
        if d in out_axis:
            kernel.append(out[out_axis[d]])
        elif d in in_axis:
            kernel.append(input_shape[in_axis[d]])
        else:
            raise ValueError(
                f"Layer '{layer}': weight dimension '{d}' of {equation!r} is in neither the "
                "input nor the output spec."
            )
    bias = None
    if bias_axes is not None:
        missing = [c for c in bias_axes if c not in out_spec]
        if missing:
            raise ValueError(
                f"Layer '{layer}': bias axes {missing} are not in the output spec {out_spec!r}."
            )
        first = min(out_spec.find(c) for c in bias_axes)
        bias = [out[out_axis[c]] if c in bias_axes else 1 for c in out_spec[first:]]
        if elided_side != "left":
            bias += [1] * max(elided, 0)
        bias = tuple(bias)
    return tuple(kernel), bias, tuple(out)


class EinsumDense(Layer):
    """y = activation(einsum(equation, x, kernel) + bias)."""

    supports_masking = True

    def __init__(self, equation: str, output_shape: Any, activation: Any = None,
                 bias_axes: str | None = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: Any = None, lora_alpha: Any = None,
                 **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise ValueError(f"Layer '{self.name}': `equation` must be a string, got "
                             f"{equation!r}.")  # fmt: skip
        self.equation = equation
        shape = (output_shape,) if isinstance(output_shape, int) else output_shape
        self.partial_output_shape = tuple(shape)
        self.bias_axes = bias_axes
        self.activation = resolve(self.name, "activation", activations.get, activation)
        for arg, init in (("kernel_initializer", kernel_initializer),
                          ("bias_initializer", bias_initializer)):  # fmt: skip
            resolve(self.name, arg, initializers.get, init)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        if lora_rank:
            raise ValueError(f"Layer '{self.name}': LoRA (lora_rank) is not supported by "
                             "lstmkit.")  # fmt: skip

    def _shapes(self, input_shape: tuple) -> tuple:
        return analyze_equation(self.name, self.equation, self.bias_axes, tuple(input_shape),
                                self.partial_output_shape)  # fmt: skip

    def build(self, input_shape: Any) -> None:
        kernel, bias, _ = self._shapes(input_shape)
        self.add_weight("kernel", kernel, self.kernel_initializer, self.kernel_regularizer,
                        self.kernel_constraint)  # fmt: skip
        if bias is not None:
            self.add_weight("bias", bias, self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)  # fmt: skip

    def check_input(self, shape: Any) -> None:
        if self.built and self._build_shape is not None and len(shape) != len(self._build_shape):
            raise ValueError(
                f"Layer '{self.name}' was built for inputs of rank {len(self._build_shape)} "
                f"(shape {self._build_shape}), called on shape {shape}."
            )

    def pure_call(self, params, inputs, **kwargs):
        y = jnp.einsum(self.equation, inputs, params["kernel"])
        if "bias" in params:
            y = y + params["bias"]
        return self.activation(y)

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> tuple:
        return self._shapes(input_shape)[2]

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "output_shape": self.partial_output_shape, "equation": self.equation,
            "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        }  # fmt: skip
