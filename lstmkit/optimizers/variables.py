"""The optimizer's variables as Keras 3 shows them: `iterations`, `learning_rate`, the slots.

lstmkit keeps the optimizer's numbers in one optax state (and the settable rate as a float on the
optimizer); an `OptimizerVariable` is a live, Keras-shaped handle on one of them: it reads the
current value each time (`.numpy()`, `float(v)`, arithmetic) and `assign` writes it back, as
`optimizer.learning_rate.assign(1e-4)` does in Keras.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np


def _plain(x: Any) -> Any:
    return x.numpy() if isinstance(x, OptimizerVariable) else x


class OptimizerVariable:
    """One optimizer variable (Keras's `keras.Variable` surface: name, path, value, assign).

    `read()` gives the current value; `write(value)` stores a new one (None: read-only).
    Arithmetic and comparisons work on the NumPy value, so `opt.learning_rate * 0.1` and
    `opt.iterations == 10` read as in Keras.
    """

    def __init__(self, path: str, read: Callable[[], Any],
                 write: Callable[[np.ndarray], None] | None = None):  # fmt: skip
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self.trainable = False
        self._read, self._write = read, write

    # ----- the value -----------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        return np.asarray(self._read())

    @property
    def value(self) -> np.ndarray:
        return self.numpy()

    @property
    def shape(self) -> tuple:
        return tuple(self.numpy().shape)

    @property
    def dtype(self) -> str:
        return str(self.numpy().dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def assign(self, value: Any) -> OptimizerVariable:
        """Set a new value (same shape; cast to the variable's dtype)."""
        if self._write is None:
            raise ValueError(f"Optimizer variable '{self.path}' cannot be assigned.")
        current = self.numpy()
        new = np.asarray(_plain(value))
        if new.shape != current.shape:
            raise ValueError(
                f"Optimizer variable '{self.path}': assign expected a value of shape "
                f"{current.shape}, got shape {new.shape}."
            )
        self._write(new.astype(current.dtype))
        return self

    def assign_add(self, value: Any) -> OptimizerVariable:
        return self.assign(self.numpy() + _plain(value))

    def assign_sub(self, value: Any) -> OptimizerVariable:
        return self.assign(self.numpy() - _plain(value))

    # ----- array-like ----------------------------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self) -> float:
        return float(self.numpy())

    def __int__(self) -> int:
        return int(self.numpy())

    def __index__(self) -> int:
        if self.numpy().dtype.kind not in "iu":
            raise TypeError(f"Optimizer variable '{self.path}' is not an integer.")
        return int(self.numpy())

    def __bool__(self) -> bool:
        return bool(self.numpy())

    def __neg__(self):
        return -self.numpy()

    def __abs__(self):
        return abs(self.numpy())

    def __getitem__(self, index: Any) -> Any:
        return self.numpy()[index]

    def __format__(self, spec: str) -> str:
        return format(self.numpy()[()] if self.ndim == 0 else self.numpy(), spec)

    def __repr__(self) -> str:
        a = self.numpy()
        value = a.item() if a.ndim == 0 else a
        return f"<Variable path={self.path}, shape={a.shape}, dtype={a.dtype}, value={value}>"


def _binary(name: str) -> tuple[Callable, Callable]:
    op = getattr(operator, name)

    def forward(self, other):
        return op(self.numpy()[()], _plain(other))

    def reflected(self, other):
        return op(_plain(other), self.numpy()[()])

    return forward, reflected


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
    _fwd, _ref = _binary(_name)
    setattr(OptimizerVariable, f"__{_name}__", _fwd)
    setattr(OptimizerVariable, f"__r{_name}__", _ref)
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(OptimizerVariable, f"__{_name}__", _binary(_name)[0])
OptimizerVariable.__hash__ = object.__hash__  # identity, as Keras's variables
