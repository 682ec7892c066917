"""Variables (what `add_weight` returns) and the stateless scope that keeps calls pure.

A layer stores its weights as plain arrays (`layer._weights`, Keras's names and layout); a
`Variable` is the Keras-shaped handle on one of them. Outside any scope, `variable.value` reads
the stored array and `assign` replaces it. While a layer is applied purely (`Layer.apply` opens a
`StatelessScope` binding every variable of the layer to the parameters being traced), `value`
is the traced value and `assign` records the new value in the scope instead of mutating
anything, as Keras's `StatelessScope` does. So a custom layer written the Keras way
(`inputs @ self.kernel`, `self.count.assign_add(1)`) stays a pure function of its parameters, and
`jax.jit` / `jax.grad` work on it unchanged.

Training keeps the live parameters on the device and registers a deferred write-back here
(`defer_write`); every read of stored values runs the pending writes first (`flush_writes`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lstmkit import constraints as constraints_mod
from lstmkit import initializers as initializers_mod
from lstmkit import regularizers as regularizers_mod

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


# ----- the scope ---------------------------------------------------------------------------------
_scopes: list[StatelessScope] = []


def current_scope() -> StatelessScope | None:
    """The innermost active StatelessScope, or None outside any pure call."""
    return _scopes[-1] if _scopes else None


class StatelessScope:
    """Binds the variables (and carried state) of `layer` and its sub-layers to `params`/`state`.

    Reads resolve to the bound values, `assign` records new ones; nothing stored changes. On exit
    the recorded assignments, the carried state and the losses move into the enclosing scope (if
    any), so nested pure calls compose. `training` and `key` are what sub-layers called inside
    the scope inherit (Keras's call context).
    """

    def __init__(self, layer: Any = None, params: Any = None, state: Any = None, *,
                 training: bool = False, key: jax.Array | None = None):  # fmt: skip
        self.values: dict[int, Any] = {}  # id(Variable) -> value
        self.assigned: dict[int, Variable] = {}  # variables given a new value in the scope
        self.states: dict[int, dict] = {}  # id(layer) -> the layer's own carried state
        self.losses: list = []  # add_loss / activity regularizers of sub-layer calls
        self.training = bool(training)
        self._key, self._key_count = key, 0
        if layer is not None:
            self.bind(layer, params, state)

    def bind(self, layer: Any, params: Any, state: Any) -> None:
        """Map `layer`'s variables to the leaves of `params` (nested as `layer.params`)."""
        if isinstance(params, dict):
            for name, var in layer._variables.items():
                if name in params:
                    self.values[id(var)] = params[name]
        if isinstance(state, dict):
            self.states[id(layer)] = {k: state[k] for k in layer._state if k in state}
        for key, sub in layer._sublayers.items():
            self.bind(
                sub,
                params.get(key) if isinstance(params, dict) else None,
                state.get(key) if isinstance(state, dict) else None,
            )

    # ----- reading back what the call did --------------------------------------------------------
    def params_of(self, layer: Any) -> dict[str, Any]:
        """`layer.params` as seen inside the scope: bound or assigned values, else stored ones."""
        own = {name: self.read(var) for name, var in layer._variables.items()}
        return {**own, **{k: self.params_of(sub) for k, sub in layer._sublayers.items()}}

    def state_of(self, layer: Any) -> dict[str, Any]:
        own = self.states.get(id(layer))
        if own is None:
            flush_writes()
            own = dict(layer._state)
        return {**own, **{k: self.state_of(sub) for k, sub in layer._sublayers.items()}}

    def set_state_of(self, layer: Any, state: Any) -> None:
        if not isinstance(state, dict):
            return
        self.states[id(layer)] = {k: state[k] for k in layer._state if k in state}
        for key, sub in layer._sublayers.items():
            if key in state:
                self.set_state_of(sub, state[key])

    def read(self, var: Variable) -> Any:
        value = self.values.get(id(var))
        return var._stored() if value is None else value

    def assign(self, var: Variable, value: Any) -> None:
        self.values[id(var)] = value
        self.assigned[id(var)] = var

    def next_key(self) -> jax.Array | None:
        """A fresh key for a sub-layer's randomness (dropout), derived from the call's key."""
        if self._key is None:
            return None
        self._key_count += 1
        return jax.random.fold_in(self._key, self._key_count)

    def total_loss(self) -> jax.Array:
        return sum(self.losses, jnp.zeros((), jnp.float32))

    # ----- entering and leaving ------------------------------------------------------------------
    def __enter__(self) -> StatelessScope:
        _scopes.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        _scopes.remove(self)
        parent = current_scope()
        if parent is None or exc[0] is not None:
            return
        for i, var in self.assigned.items():
            parent.assign(var, self.values[i])
        parent.states.update(self.states)
        parent.losses.extend(self.losses)


# ----- the variable ------------------------------------------------------------------------------
def _value(x: Any) -> Any:
    return x.value if isinstance(x, Variable) else x


class Variable:
    """One weight of a layer, as `add_weight` returns it (Keras 3's `keras.Variable` surface).

    Array-like: arithmetic and `@` work, `jnp.asarray(v)` / `np.asarray(v)` give the value, and
    `lstmkit.ops` functions accept it. `v.value` is the traced value inside a pure call.
    """

    def __init__(self, owner: Any, name: str, trainable: bool = True,
                 regularizer: Any = None, constraint: Any = None):  # fmt: skip
        self._owner = owner
        self._name = name
        self._trainable = bool(trainable)
        self.regularizer = regularizer
        self.constraint = constraint

    # ----- identity ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        """`layer_name/weight_name`, as Keras 3's `variable.path`."""
        return f"{self._owner.name}/{self._name}"

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)

    # ----- the value -----------------------------------------------------------------------------
    def _stored(self) -> Any:
        flush_writes()
        return self._owner._weights[self._name]

    @property
    def value(self) -> jax.Array:
        scope = current_scope()
        return self._stored() if scope is None else scope.read(self)

    def assign(self, value: Any) -> Any:
        """Set a new value (recorded in the scope during a pure call, stored otherwise)."""
        value = jnp.asarray(_value(value), dtype=self.dtype)
        if tuple(value.shape) != self.shape:
            raise ValueError(
                f"Variable '{self.path}': assign expected a value of shape {self.shape}, "
                f"got shape {tuple(value.shape)}."
            )
        scope = current_scope()
        if scope is not None:
            scope.assign(self, value)
        else:
            flush_writes()
            self._owner._weights[self._name] = value
        return value

    def assign_add(self, value: Any) -> Any:
        return self.assign(self.value + _value(value))

    def assign_sub(self, value: Any) -> Any:
        return self.assign(self.value - _value(value))

    @property
    def shape(self) -> tuple:
        return tuple(self._stored().shape)

    @property
    def dtype(self) -> str:
        return str(self._stored().dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = np.asarray(self.value)
        return a if dtype is None else a.astype(dtype)

    def __jax_array__(self) -> jax.Array:
        return self.value

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> Any:
        return self.value[index]

    def __bool__(self) -> bool:
        return bool(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    @property
    def T(self) -> jax.Array:
        return self.value.T

    def astype(self, dtype: Any) -> jax.Array:
        return self.value.astype(dtype)

    def __neg__(self):
        return -self.value

    def __pos__(self):
        return self.value

    def __abs__(self):
        return abs(self.value)

    def __invert__(self):
        return ~self.value


def _binary(name: str) -> tuple[Callable, Callable]:
    op = getattr(operator, name if name not in ("and", "or") else f"{name}_")

    def forward(self, other):
        return op(self.value, _value(other))

    def reflected(self, other):
        return op(_value(other), self.value)

    return forward, reflected


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and", "or", "xor"):  # fmt: skip
    _fwd, _ref = _binary(_name)
    setattr(Variable, f"__{_name}__", _fwd)
    setattr(Variable, f"__r{_name}__", _ref)
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(Variable, f"__{_name}__", _binary(_name)[0])
Variable.__hash__ = object.__hash__  # identity, as Keras's variables (== compares values)


def new_weight(layer: Any, args: tuple, *, name: Any, shape: Any, initializer: Any, dtype: Any,
               trainable: Any, regularizer: Any, constraint: Any) -> Variable:  # fmt: skip
    """Create, store and return a weight of `layer` (add_weight's work, arguments checked).

    `args` are add_weight's positional arguments: Keras 3's `(shape, initializer, dtype)`, or
    lstmkit's internal name-first `(name, shape, initializer, regularizer, constraint)`.
    Initial values are computed eagerly even while a call is being traced (a sub-layer built
    inside a jitted call), so they are real arrays, never tracers.
    """
    if "_weights" not in layer.__dict__:
        raise RuntimeError(
            f"{type(layer).__name__}: add_weight() before the base constructor ran; call "
            "`super().__init__(**kwargs)` first in your layer's __init__."
        )
    where = f"Layer '{layer.name}': add_weight"
    if args and isinstance(args[0], str):
        keys = ("name", "shape", "initializer", "regularizer", "constraint", "trainable")
        given = dict(zip(keys, args))
        name, shape = given["name"], given.get("shape", shape)
        initializer = given.get("initializer", initializer)
        regularizer = given.get("regularizer", regularizer)
        constraint = given.get("constraint", constraint)
        trainable = given.get("trainable", trainable)
    elif args:
        if len(args) > 3:
            raise TypeError(f"{where}() takes at most 3 positional arguments (shape, "
                            f"initializer, dtype), got {len(args)}.")  # fmt: skip
        shape = args[0]
        initializer = args[1] if len(args) > 1 else initializer
        dtype = args[2] if len(args) > 2 else dtype
    try:
        shape = () if shape is None else tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: `shape` must be a tuple of integers (no None), got {shape!r}."
        ) from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{where}: `shape` must not have negative entries, got {shape}.")
    try:
        dtype = str(jnp.dtype(dtype or layer.dtype))
    except TypeError:
        raise ValueError(f"{where}: unknown `dtype` {dtype!r}.") from None
    if name is None:
        name = f"variable_{len(layer._weights)}" if layer._weights else "variable"
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"{where}: `name` must be a non-empty string without '/', got {name!r}.")
    if name in layer._weights:
        raise ValueError(f"{where}: the layer already has a weight named '{name}'.")
    if initializer is None:
        initializer = "glorot_uniform" if "float" in dtype else "zeros"
    parts = {}
    for arg, module, value in (("initializer", initializers_mod, initializer),
                               ("regularizer", regularizers_mod, regularizer),
                               ("constraint", constraints_mod, constraint)):  # fmt: skip
        try:
            parts[arg] = module.get(value)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where} '{name}': invalid `{arg}` {value!r}: {e}") from None
    with jax.ensure_compile_time_eval():
        value = jnp.asarray(parts["initializer"](shape, dtype=dtype), dtype=dtype)
    if tuple(value.shape) != shape:
        raise ValueError(
            f"{where}: initializer for weight '{name}' returned shape {tuple(value.shape)}, "
            f"expected {shape}."
        )
    var = Variable(layer, name, trainable, parts["regularizer"], parts["constraint"])
    # Keras lists (and saves) a layer's trainable weights before its non-trainable ones.
    order = [k for k, v in layer._variables.items() if v.trainable] if trainable else None
    layer._weights[name], layer._variables[name] = value, var
    if order is not None and len(order) < len(layer._variables) - 1:
        keys = order + [name] + [k for k in layer._variables if k not in order and k != name]
        layer._weights = {k: layer._weights[k] for k in keys}
        layer._variables = {k: layer._variables[k] for k in keys}
    return var
