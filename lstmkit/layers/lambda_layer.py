"""Lambda: any Python function as a layer, as Keras 3's `keras.layers.Lambda`.

In memory it takes any callable (with `output_shape`, `mask` and `arguments`). Its config is
what Keras writes: a Python lambda as `{"class_name": "__lambda__", "config": {"code", ...}}`,
the function's bytecode in base64 (marshal), a named function by name. Loading such bytecode runs
code from a file, so it happens only when the caller says so (`safe_mode=False` to `load_model`,
or `enable_unsafe_deserialization()`), exactly as Keras: `safe_mode_scope` carries that choice to
`Lambda.from_config`.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import contextvars
import inspect
import marshal
import types
from collections.abc import Iterator
from typing import Any

import jax.numpy as jnp
import numpy as np

from lstmkit import ops
from lstmkit.layers.base import Layer

_SAFE_MODE: contextvars.ContextVar[bool | None] = contextvars.ContextVar("safe_mode", default=None)
_UNSAFE_ENABLED = [False]
LAMBDA_CLASS = "__lambda__"


@contextlib.contextmanager
def safe_mode_scope(safe_mode: bool | None = True) -> Iterator[None]:
    """Within the block, deserializing Python lambdas is refused (True) or allowed (False)."""
    token = _SAFE_MODE.set(None if safe_mode is None else bool(safe_mode))
    try:
        yield
    finally:
        _SAFE_MODE.reset(token)


def enable_unsafe_deserialization() -> None:
    """Allow loading Python lambdas everywhere (Keras's `keras.config` switch of that name)."""
    _UNSAFE_ENABLED[0] = True


def in_safe_mode() -> bool:
    """Whether loading lambda bytecode is refused now (the default). Once
    `enable_unsafe_deserialization()` was called, never: as in Keras, the global switch wins over
    `load_model`'s default `safe_mode=True`."""
    if _UNSAFE_ENABLED[0]:
        return False
    scoped = _SAFE_MODE.get()
    return True if scoped is None else scoped


# Names a lambda loaded from a file can see: `keras.ops.*` written in Keras resolves to
# lstmkit.ops, which has the same names.
_LOAD_GLOBALS = {"__builtins__": builtins, "ops": ops, "np": np, "jnp": jnp,
                 "keras": types.SimpleNamespace(ops=ops)}  # fmt: skip


def is_lambda_entry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == LAMBDA_CLASS


def function_to_config(fn: Any) -> Any:
    """What Keras writes for a function: a lambda's bytecode, or a named function's name."""
    if isinstance(getattr(fn, "__dict__", None), dict) and LAMBDA_CLASS in fn.__dict__:
        return fn.__dict__[LAMBDA_CLASS]  # read from a file: written back as it was read
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        closure = None if not fn.__closure__ else tuple(c.cell_contents for c in fn.__closure__)
        config = {"code": code, "defaults": fn.__defaults__, "closure": closure}
        return {"class_name": LAMBDA_CLASS, "config": config}
    if callable(fn):
        name = getattr(fn, "__name__", type(fn).__name__)
        return {"module": getattr(fn, "__module__", None), "class_name": "function",
                "config": name, "registered_name": "function"}  # fmt: skip
    raise ValueError(f"Lambda: cannot serialize {fn!r} ({type(fn).__name__}): not callable.")


def function_from_config(entry: dict, where: str) -> Any:
    """A Python lambda from Keras's `__lambda__` entry; refused in safe mode."""
    if in_safe_mode():
        raise ValueError(
            f"Refusing to load {where}: its function is a Python lambda stored as bytecode, and "
            "loading it would run code from the file. If you trust the file, pass "
            "safe_mode=False to load_model (or call "
            "lstmkit.config.enable_unsafe_deserialization()); else rewrite it as a "
            "named function and pass that in custom_objects."
        )
    config = entry.get("config") or {}
    code = config.get("code")
    if isinstance(code, (list, tuple)):  # an older dump: (code, defaults, closure)
        code, defaults, closure = code
    else:
        defaults, closure = config.get("defaults"), config.get("closure")
    try:
        raw = base64.decodebytes(code.encode("ascii"))
    except (UnicodeEncodeError, ValueError):
        raw = code.encode("raw_unicode_escape")
    try:
        bytecode = marshal.loads(raw)
    except (ValueError, EOFError, TypeError) as e:
        raise ValueError(f"{where}: the lambda's bytecode cannot be read ({e}); it was "
                         "probably written by another Python version.") from e  # fmt: skip
    cells = None if closure is None else tuple(types.CellType(v) for v in closure)
    fn = types.FunctionType(bytecode, dict(_LOAD_GLOBALS), bytecode.co_name,
                            None if defaults is None else tuple(defaults), cells)  # fmt: skip
    # marshal's bytes depend on reference counts, so keep the entry to write back unchanged
    fn.__dict__[LAMBDA_CLASS] = entry
    return fn


class Lambda(Layer):
    """`function(inputs, **arguments)` as a layer (it also gets `mask=` and `training=` if its
    signature names them). `output_shape` (without the batch axis, or a function of the input
    shape) is inferred by tracing when not given; `mask` is the output mask (a function
    `(inputs, mask) -> mask`, or a fixed value)."""

    masks_per_input = True  # called on a list, it sees a list of masks, as in Keras

    def __init__(self, function: Any, output_shape: Any = None, mask: Any = None,
                 arguments: dict | None = None, **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Layer '{self.name}' (Lambda): `function` should be callable; got "
                            f"{function!r} ({type(function).__name__}).")  # fmt: skip
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        if isinstance(output_shape, list) and all(isinstance(d, (int, type(None)))
                                                  for d in output_shape):  # fmt: skip
            output_shape = tuple(output_shape)
        self._output_shape = output_shape
        try:
            names = inspect.signature(function).parameters
        except (TypeError, ValueError):
            names = {}
        self._takes_mask, self._takes_training = "mask" in names, "training" in names

    def call(self, inputs: Any, mask: Any = None, training: Any = None) -> Any:
        kwargs = dict(self.arguments)
        if self._takes_mask:
            kwargs["mask"] = mask
        if self._takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)  # traced, as Keras infers it
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape
        while isinstance(first, list):
            first = first[0]
        batch = first[0] if first else None

        def with_batch(shape: Any) -> Any:
            if isinstance(shape, tuple) and all(isinstance(d, (int, type(None))) for d in shape):
                return (batch, *shape)
            return [with_batch(s) for s in shape]

        return with_batch(self._output_shape)

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": self.dtype,
                                  "function": function_to_config(self.function)}  # fmt: skip
        if self._output_shape is not None:
            shape = self._output_shape
            config["output_shape"] = function_to_config(shape) if callable(shape) else shape
        if self.mask is not None:
            config["mask"] = function_to_config(self.mask) if callable(self.mask) else self.mask
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Lambda:
        """Keras's Lambda config; a Python lambda in it loads only outside safe mode."""
        config = dict(config)
        where = f"layer '{config.get('name', '?')}' (Lambda)"
        for key in ("function", "output_shape", "mask"):
            if is_lambda_entry(config.get(key)):
                config[key] = function_from_config(config[key], where)
        return cls(**config)
