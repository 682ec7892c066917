"""What the native LSTM's and GRU's Python sides share (lstm.py, gru.py): the FFI calls' form,
the operands' time order and mask, which cells the kernels compute, and the dispatch on CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
from jax import lax

from lstmkit.kernels import activations
from lstmkit.kernels.native import build

Array = jax.Array
Result = tuple[Array, Array | None, list]  # (last output, outputs or None, final states)
T = TypeVar("T")


def ffi_call(target: str, shapes: list[tuple], aliases: dict[int, int] | None = None) -> Callable:
    """The registered `target`, returning float32 arrays of `shapes` ((0,): nothing asked);
    `aliases` maps an operand's index to the result written over it."""
    results = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    return jax.ffi.ffi_call(target, results, vmap_method="sequential", input_output_aliases=aliases)


def require_library() -> None:
    if build.library() is None:
        raise RuntimeError(f"lstmkit's native kernels could not be built: {build.last_error()}")


def in_time_order(x: Array, mask: Array | None, go_backwards: bool) -> tuple[Array, Array]:
    """x and the mask in the order the kernel runs the steps (flipped for go_backwards), the
    mask as booleans, or (0,) for none."""
    if go_backwards:
        x = jnp.flip(x, 1)
        mask = None if mask is None else jnp.flip(mask, 1)
    return x, jnp.zeros((0,), bool) if mask is None else mask.astype(bool)


def default_float32_cell(cell: Any, params: dict, x: Array, initial_states: list) -> bool:
    """Keras's default activations (tanh, sigmoid), float32 throughout, (batch, time, features)."""
    arrays = [x, params["kernel"], params["recurrent_kernel"], *initial_states]
    if params.get("bias") is not None:
        arrays.append(params["bias"])
    return (
        cell.activation is activations.tanh
        and cell.recurrent_activation is activations.sigmoid
        and all(jnp.result_type(a) == jnp.float32 for a in arrays)
        and x.ndim == 3
    )


def after_each_step(before: Array, last: Array) -> Array:
    """The states after each step, (batch, time, units): those before the next step, and the
    final ones."""
    return jnp.concatenate([before[:, 1:], last[:, None]], 1)


def on_cpu(run: Callable[..., T], params: dict, x: Array, initial_states: list,
           fallback: Callable[[], T], **options: Any) -> T:  # fmt: skip
    """`run(x, kernel, bias, recurrent_kernel, initial_states, **options)` on CPU, `fallback()`
    on other platforms. The operands are closed over; platform_dependent only chooses the branch
    at lowering."""

    def native() -> T:
        return run(x, params["kernel"], params.get("bias"), params["recurrent_kernel"],
                   list(initial_states), **options)  # fmt: skip

    return lax.platform_dependent(cpu=native, default=fallback)
