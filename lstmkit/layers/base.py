"""Layer: configuration plus pure functions of parameters.

A layer holds its configuration, and (once built) its weights as a plain dict of arrays in Keras's
names and layout (`self._weights`), each with a `Variable` handle (`add_weight` returns it). The
pure entry point is `apply(params, state, inputs, ...) -> (outputs, new_state)`, which models and
training jit and differentiate. Built-in layers write their math as `pure_call(params, inputs,
...)`; a user's layer writes Keras's `call(self, inputs, mask=None, training=None)`, which
`apply` runs inside a stateless scope (calling.py) so that `self.kernel` is the traced value.
`__call__` is the Keras-shaped convenience: on symbolic tensors it records a graph node, inside
another layer's pure call it uses the scoped parameters, on arrays it builds and runs eagerly.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import legacy, mixed_precision
from lstmkit import regularizers as regularizers_mod
from lstmkit.layers import calling
from lstmkit.layers.naming import peek_name, reset_names, unique_name
from lstmkit.layers.symbolic import any_symbolic, first_call
from lstmkit.layers.tree import is_shape, ordered_leaves, ordered_unflatten, to_arrays
from lstmkit.layers.variables import Variable, current_scope, defer_write, flush_writes, new_weight
from lstmkit.naming import to_snake_case

# Re-exported: models, training and saving import these from here.
__all__ = ["Layer", "Variable", "defer_write", "flush_writes", "is_shape", "ordered_leaves",
           "ordered_unflatten", "peek_name", "reset_names", "to_arrays",
           "unique_name"]  # fmt: skip


class Layer:
    """Base class: name, trainable, dtype, weights, and the symbolic/eager calling conventions."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Layer:
        obj = super().__new__(cls)
        # What the constructor was given: get_config's default for user layers (Keras's
        # auto-config); only plain JSON values are kept.
        object.__setattr__(obj, "_init_config", calling.auto_config(cls, args, kwargs))
        return obj

    def __init__(
        self,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype: Any = None,
        input_shape: Any = None,
        batch_input_shape: Any = None,
        batch_size: int | None = None,
        input_dim: int | None = None,
        activity_regularizer: Any = None,
        **kwargs: Any,
    ):
        cls = type(self).__name__
        kwargs.pop("weights", None)  # Keras 1 initial weights: ignored, use set_weights
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword argument(s) {sorted(kwargs)}.")
        self.name = name or unique_name(to_snake_case(cls))
        self.dtype_policy = mixed_precision.get(dtype)  # Keras's: a name, a policy, or global
        self.dtype = self.dtype_policy.variable_dtype  # Keras's layer.dtype: the weights' dtype
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.built = False
        self._weights: dict[str, jax.Array] = {}
        self._variables: dict[str, Variable] = {}  # same keys as _weights
        self.__dict__.setdefault("_sublayers", {})  # may hold layers assigned before super()
        self._state: dict[str, Any] = {}
        self._trainable = bool(trainable)
        self._build_shape: Any = None
        self._jitted: dict = {}
        # The shape a first layer may declare (Keras 2 style); Sequential turns it into an Input.
        self._batch_input_shape = legacy.declared_batch_shape(
            self.name, input_shape, batch_input_shape, batch_size, input_dim
        )

    def __setattr__(self, name: str, value: Any) -> None:
        # Keras tracks sub-layers assigned as attributes (a layer or a list), named by attribute.
        if isinstance(value, Layer) and value is not self:
            self._track_attr(name, [value], single=True)
        elif _layer_list(value):
            self._track_attr(name, list(value), single=False)
        object.__setattr__(self, name, value)

    def _track_attr(self, name: str, layers: list, single: bool) -> None:
        subs = self.__dict__.setdefault("_sublayers", {})
        tracked = {id(v) for v in subs.values()}
        used: dict[str, int] = {}
        for layer in layers:
            base = to_snake_case(type(layer).__name__)  # numbered as Keras: every item counts
            key = base if base not in used else f"{base}_{used[base] + 1}"
            used[base] = used.get(base, -1) + 1
            if id(layer) not in tracked:
                subs[name if single else f"{name}/{key}"] = layer

    # ----- weights -----------------------------------------------------------------------------
    def add_weight(
        self,
        *args: Any,
        shape: Any = None,
        initializer: Any = None,
        dtype: Any = None,
        trainable: bool = True,
        autocast: bool = True,
        regularizer: Any = None,
        constraint: Any = None,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
        name: str | None = None,
    ) -> Variable:
        """Create a weight and return its Variable (Keras 3's keywords; positionally either
        Keras 3's `(shape, initializer, dtype)` or lstmkit's `(name, shape, initializer,
        regularizer, constraint, trainable)`). Trainable weights come first in `get_weights()`,
        each group in creation order, as in Keras."""
        return new_weight(self, args, name=name, shape=shape, initializer=initializer,
                          dtype=dtype, trainable=trainable, regularizer=regularizer,
                          constraint=constraint)  # fmt: skip

    def add_variable(self, shape: Any, initializer: Any, **kwargs: Any) -> Variable:
        """Keras's add_variable: add_weight with shape and initializer first."""
        return self.add_weight(shape=shape, initializer=initializer, **kwargs)

    def track(self, key: str, layer: Layer) -> Layer:
        """Register a sub-layer; its params nest under `key` (Keras's path in weight files).
        A layer is tracked once: under its latest key."""
        subs = self.__dict__.setdefault("_sublayers", {})
        for k in [k for k, v in subs.items() if v is layer]:
            del subs[k]
        subs[key] = layer
        return layer

    @property
    def params(self) -> dict[str, Any]:
        """All weights as a nested dict: own weights first, then sub-layers by key."""
        flush_writes()
        return {**self._weights, **{k: sub.params for k, sub in self._sublayers.items()}}

    def set_params(self, params: dict[str, Any]) -> None:
        flush_writes()
        for k in self._weights:
            self._weights[k] = params[k]
        for k, sub in self._sublayers.items():
            sub.set_params(params[k])

    @property
    def state(self) -> dict[str, Any]:
        """Non-trainable carried state (the states of a stateful RNN), nested like params."""
        flush_writes()
        return {**self._state, **{k: sub.state for k, sub in self._sublayers.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        flush_writes()
        for k in self._state:
            self._state[k] = state[k]
        for k, sub in self._sublayers.items():
            sub.set_state(state[k])

    @property
    def compute_dtype(self) -> str:
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self.dtype_policy.variable_dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for sub in self._sublayers.values():
            sub.trainable = value

    @property
    def supports_masking(self) -> bool:
        """Keras's default: a layer that defines compute_mask supports masking."""
        default = type(self).compute_mask is Layer.compute_mask
        return self.__dict__.get("_supports_masking", not default)

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    def trainable_mask(self) -> dict[str, Any]:
        """A pytree of bools beside `params`: which leaves training may change."""
        own = {k: self._trainable and v.trainable for k, v in self._variables.items()}
        return {**own, **{k: sub.trainable_mask() for k, sub in self._sublayers.items()}}

    @property
    def weights(self) -> list[jax.Array]:
        return ordered_leaves(self.params)

    @property
    def trainable_weights(self) -> list[jax.Array]:
        flags = ordered_leaves(self.trainable_mask())
        return [w for w, t in zip(self.weights, flags) if t]

    @property
    def non_trainable_weights(self) -> list[jax.Array]:
        flags = ordered_leaves(self.trainable_mask())
        return [w for w, t in zip(self.weights, flags) if not t]

    @property
    def variables(self) -> list[Variable]:
        """Every weight's Variable, in `get_weights()` order."""
        own = list(self._variables.values())
        return own + [v for sub in self._sublayers.values() for v in sub.variables]

    def get_weights(self) -> list[np.ndarray]:
        return [np.asarray(w) for w in self.weights]

    def set_weights(self, weights: list) -> None:
        """Replace every weight; count and shapes are checked before anything changes."""
        params = self.params
        leaves = ordered_leaves(params)
        if len(weights) != len(leaves):
            raise ValueError(
                f"Layer '{self.name}': set_weights expected a list of {len(leaves)} arrays "
                f"{[tuple(w.shape) for w in leaves]}, got {len(weights)}."
            )
        new = []
        for i, (old, w) in enumerate(zip(leaves, weights)):
            w = np.asarray(w)
            if w.shape != old.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight {i} has shape {tuple(old.shape)}, "
                    f"set_weights was given shape {w.shape}."
                )
            new.append(jnp.asarray(w, dtype=old.dtype))
        self.set_params(ordered_unflatten(params, new))

    def count_params(self) -> int:
        return int(sum(np.prod(w.shape) for w in self.weights))

    def regularization_loss(self, params: dict[str, Any]) -> jax.Array:
        """Sum of the weight regularizers' penalties on `params`."""
        total = jnp.zeros((), jnp.float32)
        for k, var in self._variables.items():
            if var.regularizer is not None:
                total = total + var.regularizer(params[k])
        for k, sub in self._sublayers.items():
            total = total + sub.regularization_loss(params[k])
        return total

    def activity_loss(self, outputs: Any) -> jax.Array:
        """The activity regularizer's penalty on this call's outputs, per sample (as Keras)."""
        total = jnp.zeros((), jnp.float32)
        if self.activity_regularizer is None:
            return total
        for out in jax.tree_util.tree_leaves(outputs):
            penalty = self.activity_regularizer(out)
            total = total + (penalty / out.shape[0] if out.ndim else penalty)
        return total

    def add_loss(self, loss: Any) -> None:
        """Add a loss term during `call` (added to the training loss, as Keras's add_loss)."""
        scope = current_scope()
        if scope is None:
            raise RuntimeError(f"Layer '{self.name}': add_loss() works only inside call().")
        scope.losses.append(jnp.asarray(loss, jnp.float32))

    def apply_constraints(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` with every weight constraint applied (after an optimizer update)."""
        out = dict(params)
        for k, var in self._variables.items():
            if var.constraint is not None:
                out[k] = var.constraint(params[k])
        for k, sub in self._sublayers.items():
            out[k] = sub.apply_constraints(params[k])
        return out

    # ----- the contract subclasses fill in -----------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create weights for inputs of `input_shape` (batch may be None)."""

    def call(self, inputs: Any, training: Any = None, mask: Any = None, **kwargs: Any) -> Any:
        """Keras's call. A user's layer overrides it; for a built-in layer it runs `pure_call`
        on the current (inside a pure call: the traced) values of the weights."""
        scope = current_scope()
        params = self.params if scope is None else scope.params_of(self)
        return self.pure_call(params, inputs, training=bool(training), mask=mask, **kwargs)

    def pure_call(self, params, inputs, *, training=False, mask=None, key=None, **kwargs):
        """A built-in layer's math, a pure function of `params` and the inputs."""
        raise NotImplementedError(
            f"Layer '{self.name}' ({type(self).__name__}) defines neither call() nor pure_call()."
        )

    # A built-in layer called with several positional inputs (MultiHeadAttention(query, value)).
    positional_inputs = False

    @property
    def keras_style(self) -> bool:
        """Whether the layer's math is a Keras-style `call` (a user's layer or model)."""
        return type(self).call is not Layer.call

    def apply(self, params, state, inputs, *, training=False, mask=None, key=None, **kwargs):
        """Pure: (params, state, inputs) -> (outputs, new_state)."""
        params, inputs = mixed_precision.autocast(self.dtype_policy, params, inputs)
        if self.keras_style:
            return calling.stateless_apply(self, params, state, inputs, training=training,
                                             mask=mask, key=key, extra=kwargs)  # fmt: skip
        out = self.pure_call(params, inputs, training=training, mask=mask, key=key, **kwargs)
        return out, state

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        """Built-ins: the input shape. A user's layer: inferred by tracing `call` on float32
        inputs of that shape (Keras's compute_output_spec)."""
        if not self.keras_style:
            return input_shape
        spec = calling.output_spec(self, calling.map_shapes(calling.FloatSpec, input_shape), {})
        return jax.tree_util.tree_map(lambda s: s[0], spec, is_leaf=calling.is_spec)

    def output_dtype(self, input_dtype: str) -> str:
        return self.compute_dtype

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The mask that flows on to the next layer: kept by masking-aware layers, else dropped."""
        return mask if self.supports_masking else None

    def get_config(self) -> dict[str, Any]:
        """Keras's base config (name, trainable, dtype) and, for a user's layer without its own
        get_config, the constructor's plain arguments."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers_mod.serialize(self.activity_regularizer)
        if type(self).get_config is Layer.get_config:
            config.update(self.__dict__.get("_init_config") or {})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def check_input(self, shape: Any) -> None:
        """Validate an input shape before (re)use; raise ValueError naming the layer."""
        built = self._build_shape
        has_weights = bool(ordered_leaves(self.params))  # own or a sub-layer's (RNN: the cell's)
        if self.keras_style or not (has_weights and is_shape(shape) and is_shape(built)
                                    and shape and built):  # fmt: skip
            return
        if shape[-1] != built[-1]:  # other axes may change: Dense runs on any rank, as in Keras
            raise ValueError(
                f"Layer '{self.name}' was built for inputs of shape {built} (last dimension "
                f"{built[-1]}), but was called on an input of shape {shape}."
            )

    def check_values(self, inputs: Any) -> None:
        """Checks that need concrete values (Embedding ids); skipped under tracing."""

    @property
    def input(self) -> Any:
        """The input tensor(s) of the layer's first call on symbolic tensors, as Keras."""
        return first_call(self, "input")

    @property
    def output(self) -> Any:
        """The output tensor(s) of the layer's first call on symbolic tensors, as Keras."""
        return first_call(self, "output")

    # ----- calling -----------------------------------------------------------------------------
    def maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            if self.keras_style:  # lists of layers filled after assignment (Keras tracks them)
                for name, value in list(vars(self).items()):
                    if _layer_list(value):
                        self._track_attr(name, list(value), single=False)
            self.build(input_shape)
            self._build_shape = input_shape
            self.built = True
        self.check_input(input_shape)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if args and (self.keras_style or self.positional_inputs):  # call(query, value, ...)
            inputs = calling.CallArgs((inputs, *args))
        elif args:
            raise TypeError(
                f"Layer '{self.name}': pass call options by keyword (mask=, initial_state=, "
                f"training=); got {len(args)} extra positional argument(s)."
            )
        if any_symbolic(inputs, kwargs):
            return calling.call_symbolic(self, inputs, kwargs)
        if (scope := current_scope()) is not None:
            return calling.call_in_scope(self, scope, inputs, kwargs)
        return calling.call_eager(self, inputs, kwargs)


def _layer_list(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and bool(value)
        and all(isinstance(v, Layer) for v in value)
    )
