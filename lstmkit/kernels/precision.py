"""Float32 matrix-product precision: exact by default, TF32 when the user opts in.

XLA's default precision for float32 products is not float32 on every backend (TF32 on NVIDIA
GPUs since Ampere, bfloat16 passes on TPUs). lstmkit promises Keras's numbers within 1e-5, so
each function lstmkit jits (`jit` below: the train, test and predict steps, a layer's eager
call, the streamer, the glass box) runs under `jax.default_matmul_precision(...)` with the
setting chosen here, "highest" unless the user chose otherwise. On a CPU every setting gives the
same numbers.

The setting is a static argument of the jitted function and its context is entered while
tracing: changing it recompiles instead of reusing a stale program, and every product traced
inside (the loss, the optimizer, a custom VJP's backward) records it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
from jax import lax

# lstmkit's names -> JAX's names of `jax_default_matmul_precision` (None: leave JAX's setting).
_CHOICES = {
    "highest": "highest",  # float32 math in float32 (torch: "highest")
    "float32": "highest",
    "high": "tensorfloat32",  # TF32 on NVIDIA GPUs (torch: "high")
    "tf32": "tensorfloat32",
    "tensorfloat32": "tensorfloat32",
    "default": None,  # whatever JAX/XLA does on this backend (torch's "medium" is nearest)
}
_current = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """Precision of float32 matrix products in every function lstmkit compiles.

    "highest" (the default; also "float32"): exact float32, as Keras's numbers need.
    "high" (also "tf32", "tensorfloat32"): TF32 on GPUs that have it, faster, ~1e-3 relative.
    "default": leave it to JAX (`jax_default_matmul_precision` or XLA's backend default).
    Named after `torch.set_float32_matmul_precision`; on a CPU the numbers do not change.
    """
    if not isinstance(precision, str) or precision.lower() not in _CHOICES:
        raise ValueError(
            f"set_float32_matmul_precision: expected one of {sorted(_CHOICES)}, got {precision!r}."
        )
    _current[0] = precision.lower()


def get_float32_matmul_precision() -> str:
    """The current setting, as given to `set_float32_matmul_precision` ("highest" by default)."""
    return _current[0]


@contextlib.contextmanager
def float32_matmul_precision(precision: str) -> Iterator[None]:
    """Temporarily `set_float32_matmul_precision(precision)`."""
    before = _current[0]
    set_float32_matmul_precision(precision)
    try:
        yield
    finally:
        _current[0] = before


def jax_precision() -> str | None:
    """The setting as JAX names it, or None for JAX's own default."""
    return _CHOICES[_current[0]]


def traced_precision() -> Any:
    """The precision a product traced now gets (the scoped setting), as `lax.Precision`s: what
    the cuDNN path hands to cuDNN (HIGHEST: no TF32)."""
    return lax.canonicalize_precision(None)


def jit(fn: Callable, **jit_kwargs: Any) -> Callable:
    """`jax.jit(fn)` under lstmkit's float32 matmul precision. The setting enters as a static
    argument, so the context is entered only while tracing (a call pays no context switch)
    and each setting gets its own compiled program."""

    def traced(setting: str | None, *args: Any, **kwargs: Any) -> Any:
        if setting is None:
            return fn(*args, **kwargs)
        with jax.default_matmul_precision(setting):
            return fn(*args, **kwargs)

    compiled = jax.jit(traced, static_argnums=0, **jit_kwargs)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        return compiled(_CHOICES[_current[0]], *args, **kwargs)

    return call


def scoped(compiled: Callable) -> Callable:
    """`compiled` called under lstmkit's float32 matmul precision (also for eager runs:
    `compile(jit_compile=False)`)."""

    @functools.wraps(compiled)
    def call(*args: Any, **kwargs: Any) -> Any:
        precision = _CHOICES[_current[0]]
        if precision is None:
            return compiled(*args, **kwargs)
        with jax.default_matmul_precision(precision):
            return compiled(*args, **kwargs)

    return call
