"""Non-recurrent layers: Input, Dense, Activation, Dropout, Flatten, Reshape, Embedding, Masking,
and global pooling over time."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import constraints, initializers, legacy, regularizers
from lstmkit.kernels import activations
from lstmkit.layers.base import Layer
from lstmkit.layers.cells import check_rate, check_units, resolve
from lstmkit.layers.symbolic import Node, SymbolicTensor


def _ser(module: Any, obj: Any) -> Any:
    return module.serialize(module.get(obj))


class InputLayer(Layer):
    """The graph's entry point; `Input(...)` returns its symbolic output."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 sparse=None, **kwargs):  # fmt: skip
        super().__init__(name=name or None, dtype=dtype, **kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input: give `shape` (without the batch axis) or `batch_shape`.")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size, *shape)
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.built = True
        node = Node(self, None, {})
        node.outputs = SymbolicTensor(self.batch_shape, self.dtype, node, 0)
        self._inbound_nodes = [node]  # `self.output` is the symbolic input

    def pure_call(self, params, inputs, **kwargs):
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": False,
                "name": self.name}  # fmt: skip


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          **kwargs) -> SymbolicTensor:  # fmt: skip
    """A symbolic input: `Input(shape=(time, features))`, or `batch_shape=` for stateful models."""
    return InputLayer(shape, batch_size, dtype, batch_shape, name, sparse, **kwargs).output


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis."""

    supports_masking = True

    def __init__(self, units=None, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, **kwargs):  # fmt: skip
        if "output_dim" in kwargs:  # Keras 1; `units` wins when both are given
            renamed = legacy.pop_renamed("Dense", "Dense", kwargs, "output_dim")
            units = renamed if units is None else units
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_units(self.name, units)
        self.activation = resolve(self.name, "activation", activations.get, activation)
        self.use_bias = bool(use_bias)
        resolve(self.name, "kernel_initializer", initializers.get, kernel_initializer)
        resolve(self.name, "bias_initializer", initializers.get, bias_initializer)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        self.kernel_regularizer, self.kernel_constraint)  # fmt: skip
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                            self.bias_constraint)  # fmt: skip

    def pure_call(self, params, inputs, **kwargs):
        y = inputs @ params["kernel"]  # (..., units)
        if self.use_bias:
            y = y + params["bias"]
        return self.activation(y)

    def compute_output_shape(self, input_shape, **kwargs):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
        }  # fmt: skip


class Activation(Layer):
    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = resolve(self.name, "activation", activations.get, activation)

    def pure_call(self, params, inputs, **kwargs):
        return self.activation(inputs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "activation": activations.serialize(self.activation)}  # fmt: skip


class Dropout(Layer):
    """Zeroes a fraction `rate` of inputs during training and scales the rest by 1/(1-rate)."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(self.name, "rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def pure_call(self, params, inputs, *, training=False, key=None, **kwargs):
        if not training or self.rate == 0.0 or key is None:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for n, s in zip(self.noise_shape, inputs.shape))
        keep = jax.random.bernoulli(key, 1.0 - self.rate, shape)
        return jnp.where(keep, inputs / (1.0 - self.rate), 0.0).astype(inputs.dtype)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}  # fmt: skip


class Flatten(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

    def pure_call(self, params, inputs, **kwargs):
        return inputs.reshape((inputs.shape[0], -1))

    def compute_output_shape(self, input_shape, **kwargs):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else int(np.prod(rest)))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "data_format": self.data_format}  # fmt: skip


class Reshape(Layer):
    """Reshape everything but the batch axis to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Layer '{self.name}': at most one -1 in target_shape, got "
                             f"{self.target_shape}.")  # fmt: skip

    def compute_output_shape(self, input_shape, **kwargs):
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            known = self.target_shape
        elif None in rest:
            known = tuple(None if d == -1 else d for d in self.target_shape)
        else:
            size, fixed = math.prod(rest), math.prod(d for d in self.target_shape if d != -1)
            known = tuple(size // fixed if d == -1 else d for d in self.target_shape)
        if None not in rest and None not in known and math.prod(rest) != math.prod(known):
            raise ValueError(
                f"Layer '{self.name}': cannot reshape inputs of shape {input_shape} to "
                f"{self.target_shape} ({math.prod(rest)} values per sample vs {math.prod(known)})."
            )
        return (input_shape[0], *known)

    def pure_call(self, params, inputs, **kwargs):
        self.compute_output_shape(tuple(inputs.shape))
        return inputs.reshape((inputs.shape[0], *self.target_shape))

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "target_shape": self.target_shape}  # fmt: skip


class Embedding(Layer):
    """Integer ids (batch, time) -> rows of `embeddings` (batch, time, output_dim)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, input_length=None, **kwargs):  # fmt: skip
        declared = None
        if input_length is not None:  # Keras 2: the (only) time axis of the first layer's input
            shape_args = ("input_shape", "batch_input_shape", "batch_size")
            declared = legacy.declared_batch_shape(
                "Embedding", *(kwargs.pop(k, None) for k in shape_args), input_length=input_length
            )
        super().__init__(**kwargs)
        self._batch_input_shape = declared or self._batch_input_shape
        self.input_dim = check_units(self.name, input_dim)
        self.output_dim = check_units(self.name, output_dim)
        resolve(self.name, "embeddings_initializer", initializers.get, embeddings_initializer)
        self.embeddings_initializer = embeddings_initializer
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self._initial_weights = weights

    @property
    def supports_masking(self):
        return self.mask_zero

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        self.embeddings_initializer, self.embeddings_regularizer,
                        self.embeddings_constraint)  # fmt: skip
        if self._initial_weights is not None:
            self.built = True
            self.set_weights(list(self._initial_weights))

    def check_input(self, shape):
        pass  # any rank of ids works; the table's size does not depend on it

    def check_values(self, inputs):
        ids = np.asarray(inputs)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise ValueError(
                f"Layer '{self.name}': ids must be in [0, {self.input_dim}) (input_dim="
                f"{self.input_dim}); got values from {ids.min()} to {ids.max()}."
            )

    def pure_call(self, params, inputs, **kwargs):
        return jnp.take(params["embeddings"], inputs.astype(jnp.int32), axis=0)

    def compute_output_shape(self, input_shape, **kwargs):
        return (*input_shape, self.output_dim)

    def compute_mask(self, inputs, mask):
        return None if not self.mask_zero else jnp.not_equal(inputs, 0)

    def get_config(self):
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": _ser(initializers, self.embeddings_initializer),
            "embeddings_regularizer": _ser(regularizers, self.embeddings_regularizer),
            "embeddings_constraint": _ser(constraints, self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "activity_regularizer": _ser(regularizers, self.activity_regularizer),
        }  # fmt: skip


class Masking(Layer):
    """Masks time steps whose features all equal `mask_value` (and zeroes them)."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def pure_call(self, params, inputs, **kwargs):
        keep = jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return inputs * keep.astype(inputs.dtype)

    def compute_mask(self, inputs, mask):
        return jnp.any(jnp.not_equal(inputs, self.mask_value), axis=-1)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "mask_value": self.mask_value}  # fmt: skip


class _GlobalPooling1D(Layer):
    supports_masking = True

    def __init__(self, data_format="channels_last", keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.keepdims = bool(keepdims)

    @property
    def steps_axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def check_input(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Layer '{self.name}' expects a 3-D input (batch, steps, features),"
                             f" got shape {shape}.")  # fmt: skip

    def compute_output_shape(self, input_shape, **kwargs):
        if self.keepdims:
            return tuple(1 if i == self.steps_axis else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i != self.steps_axis)

    def compute_mask(self, inputs, mask):
        return None

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "data_format": self.data_format, "keepdims": self.keepdims}  # fmt: skip


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over time (masks are ignored, as in Keras)."""

    def pure_call(self, params, inputs, **kwargs):
        return jnp.max(inputs, axis=self.steps_axis, keepdims=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over time; with a mask, the mean over unmasked steps."""

    def pure_call(self, params, inputs, *, mask=None, **kwargs):
        if mask is None:
            return jnp.mean(inputs, axis=self.steps_axis, keepdims=self.keepdims)
        m = jnp.expand_dims(mask.astype(inputs.dtype), 2 if self.steps_axis == 1 else 1)
        total = jnp.sum(inputs * m, axis=self.steps_axis, keepdims=self.keepdims)
        return total / jnp.sum(m, axis=self.steps_axis, keepdims=self.keepdims)


GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAveragePool1D = GlobalAveragePooling1D
