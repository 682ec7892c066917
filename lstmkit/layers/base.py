"""Layer: configuration plus pure functions of parameters.

A layer holds its configuration, and (once built) its weights as a plain dict of arrays in Keras's
names and layout. The math lives in `call(params, inputs, ...)`, a pure function, so a model can jit
and differentiate it; `__call__` is the Keras-shaped convenience around it: on symbolic tensors it
records a graph node, on arrays it builds the layer if needed and runs it eagerly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import constraints as constraints_mod
from lstmkit import initializers as initializers_mod
from lstmkit import legacy, utils
from lstmkit import regularizers as regularizers_mod
from lstmkit.layers.symbolic import Node, SymbolicTensor, any_symbolic, is_symbolic, tree_leaves
from lstmkit.naming import to_snake_case

_name_counts: Counter = Counter()

# Deferred write-back: training keeps the parameter pytree on the device and registers here how
# to write it into the layer objects; any read of weights or state runs the pending writes first.
_pending_writes: dict[int, Callable[[], None]] = {}


def defer_write(owner: Any, write: Callable[[], None]) -> None:
    """Register `write` (which puts `owner`'s live values into its layers) until someone reads."""
    _pending_writes[id(owner)] = write


def flush_writes() -> None:
    """Run every pending write-back (before any read of weights or state)."""
    while _pending_writes:
        _, write = _pending_writes.popitem()
        write()


def peek_name(base: str) -> str:
    """The name `unique_name(base)` will give next, without taking it."""
    n = _name_counts[base]
    return base if n == 0 else f"{base}_{n}"


def unique_name(base: str) -> str:
    """Keras's naming: lstm, lstm_1, lstm_2, ..."""
    name = peek_name(base)
    _name_counts[base] += 1
    return name


def reset_names() -> None:
    _name_counts.clear()


def is_shape(s: Any) -> bool:
    """A single shape (a tuple of ints/None), as opposed to a list of shapes."""
    return isinstance(s, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in s)


def ordered_leaves(tree: Any) -> list:
    """Leaves of nested dicts in insertion order (jax sorts dict keys; Keras orders by creation)."""
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in ordered_leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in ordered_leaves(v)]
    return [] if tree is None else [tree]


def ordered_unflatten(tree: Any, leaves: list) -> Any:
    """The inverse of `ordered_leaves`: `tree`'s structure filled with `leaves`."""
    it = iter(leaves)

    def fill(t):
        if isinstance(t, dict):
            return {k: fill(v) for k, v in t.items()}
        if isinstance(t, (list, tuple)):
            return [fill(v) for v in t]
        return None if t is None else next(it)

    return fill(tree)


class Layer:
    """Base class: name, trainable, dtype, weights, and the symbolic/eager calling conventions."""

    supports_masking = False

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
        self.dtype = _dtype_name(dtype)
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self.built = False
        self._weights: dict[str, jax.Array] = {}
        self._weight_info: dict[str, tuple] = {}  # name -> (regularizer, constraint, trainable)
        self._sublayers: dict[str, Layer] = {}
        self._state: dict[str, Any] = {}
        self._trainable = bool(trainable)
        self._build_shape: Any = None
        self._jitted: dict = {}
        # The shape a first layer may declare (Keras 2 style); Sequential turns it into an Input.
        self._batch_input_shape = legacy.declared_batch_shape(
            self.name, input_shape, batch_input_shape, batch_size, input_dim
        )

    # ----- weights -----------------------------------------------------------------------------
    def add_weight(
        self,
        name: str,
        shape: tuple,
        initializer: Any = "glorot_uniform",
        regularizer: Any = None,
        constraint: Any = None,
        trainable: bool = True,
    ) -> jax.Array:
        """Create a weight; the order of calls is the order of `get_weights()`, as in Keras."""
        init = initializers_mod.get(initializer)
        value = jnp.asarray(init(tuple(shape), dtype=self.dtype), dtype=self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(
                f"Layer '{self.name}': initializer for weight '{name}' returned shape "
                f"{value.shape}, expected {tuple(shape)}."
            )
        self._weights[name] = value
        self._weight_info[name] = (
            regularizers_mod.get(regularizer),
            constraints_mod.get(constraint),
            trainable,
        )
        return value

    def track(self, key: str, layer: Layer) -> Layer:
        """Register a sub-layer; its params nest under `key` (Keras's path in weight files)."""
        self._sublayers[key] = layer
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
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for sub in self._sublayers.values():
            sub.trainable = value

    def trainable_mask(self) -> dict[str, Any]:
        """A pytree of bools beside `params`: which leaves training may change."""
        own = {k: self._trainable and info[2] for k, info in self._weight_info.items()}
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
        for k, (reg, _, _) in self._weight_info.items():
            if reg is not None:
                total = total + reg(params[k])
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

    def apply_constraints(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params` with every weight constraint applied (after an optimizer update)."""
        out = dict(params)
        for k, (_, con, _) in self._weight_info.items():
            if con is not None:
                out[k] = con(params[k])
        for k, sub in self._sublayers.items():
            out[k] = sub.apply_constraints(params[k])
        return out

    # ----- the contract subclasses fill in -----------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create weights for inputs of `input_shape` (batch may be None)."""

    def call(self, params, inputs, *, training=False, mask=None, key=None):
        """The layer's math, a pure function of `params` and the inputs."""
        raise NotImplementedError

    def apply(self, params, state, inputs, *, training=False, mask=None, key=None, **kwargs):
        """Pure: (params, state, inputs) -> (outputs, new_state). Stateless layers reuse `call`."""
        return self.call(params, inputs, training=training, mask=mask, key=key, **kwargs), state

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        return input_shape

    def output_dtype(self, input_dtype: str) -> str:
        return self.dtype

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        """The mask that flows on to the next layer: kept by masking-aware layers, else dropped."""
        return mask if self.supports_masking else None

    def check_input(self, shape: Any) -> None:
        """Validate an input shape before (re)use; raise ValueError naming the layer."""
        built = self._build_shape
        has_weights = bool(ordered_leaves(self.params))  # own or a sub-layer's (RNN: the cell's)
        if not (has_weights and is_shape(shape) and is_shape(built) and shape and built):
            return
        if shape[-1] != built[-1]:  # other axes may change: Dense runs on any rank, as in Keras
            raise ValueError(
                f"Layer '{self.name}' was built for inputs of shape {built} (last dimension "
                f"{built[-1]}), but was called on an input of shape {shape}."
            )

    def check_values(self, inputs: Any) -> None:
        """Checks that need concrete values (Embedding ids); skipped under tracing."""

    # ----- calling -----------------------------------------------------------------------------
    def maybe_build(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self._build_shape = input_shape
            self.built = True
        self.check_input(input_shape)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(
                f"Layer '{self.name}': pass call options by keyword (mask=, initial_state=, "
                f"training=); got {len(args)} extra positional argument(s)."
            )
        if any_symbolic(inputs, kwargs):
            return self._call_symbolic(inputs, kwargs)
        return self._call_eager(inputs, kwargs)

    def _call_symbolic(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        shape = _shapes(inputs)
        self.maybe_build(shape)
        shape_kwargs = {k: _shapes(v) for k, v in kwargs.items() if k == "initial_state"}
        out_shape = self.compute_output_shape(shape, **shape_kwargs)
        in_dtype = tree_leaves(inputs)[0].dtype
        node = Node(self, inputs, kwargs)
        dtype, index = self.output_dtype(in_dtype), iter(range(1 << 30))

        def symbolic(s):  # nested like the shapes: stacked cells return [out, [h, c], [h]]
            if is_shape(s):
                return SymbolicTensor(s, dtype, node, next(index))
            return [symbolic(item) for item in s]

        node.outputs = symbolic(out_shape)
        return node.outputs

    def _call_eager(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        inputs = to_arrays(inputs)
        training = bool(kwargs.pop("training", False) or False)
        mask = kwargs.pop("mask", None)
        mask = None if mask is None else to_arrays(mask)
        extra = {k: to_arrays(v) for k, v in kwargs.items() if v is not None}
        self.maybe_build(_shapes(inputs))
        self.check_values(inputs)
        key = utils.next_key() if training else None
        fn = self._jitted.get(training)
        if fn is None:
            fn = jax.jit(lambda p, s, x, m, k, kw: self.apply(
                p, s, x, training=training, mask=m, key=k, **kw))  # fmt: skip
            self._jitted[training] = fn
        outputs, new_state = fn(self.params, self.state, inputs, mask, key, extra)
        self.set_state(new_state)
        return outputs


def _dtype_name(dtype: Any) -> str:
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):  # a Keras 3 DTypePolicy config
        return dtype.get("config", {}).get("name", "float32")
    return str(jnp.dtype(dtype))


def _shapes(tree: Any) -> Any:
    """The shape structure of inputs: a tuple for one tensor, a list of tuples for several."""
    if is_symbolic(tree) or hasattr(tree, "shape"):
        return tuple(tree.shape)
    if isinstance(tree, (list, tuple)):
        return [_shapes(t) for t in tree]
    if tree is None:
        return None
    return tuple(np.shape(tree))


def to_arrays(tree: Any) -> Any:
    """numpy/python values -> jax arrays (floats as float32 unless already jax arrays)."""

    def convert(x):
        if isinstance(x, jax.Array):
            return x
        a = np.asarray(x)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        return jnp.asarray(a)

    if isinstance(tree, (list, tuple)):
        return [to_arrays(t) for t in tree]
    return convert(tree)
