"""The native CPU GRU (gru_cpu.h through jax.ffi) with a custom VJP, and its dispatch.

As the LSTM's (lstm.py): one FFI call runs the whole time loop, per step one product
`[x_t, h] @ [W; U]` with the gates applied in its registers; in training it also returns the
activated gates, the recurrent candidate product r_h and the h before each step, which the
backward call (the reverse loop, and the weight gradients as whole-sequence products) reads.
`dx = d_in @ kernel.T` stays in XLA, so that XLA drops it when the input is the model's input.

Used on CPU for a GRUCell with Keras's defaults (tanh, sigmoid, reset_after=True), float32, no
recurrent dropout or per-gate input dropout, and more than a streamed step's work (a few rows and
fewer than four steps: packing [W; U] would cost as much as the step, and the fused XLA scan runs
it). `lax.platform_dependent` keeps a program lowered for another platform on the XLA path.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from lstmkit.kernels.native import build
from lstmkit.kernels.native.common import (
    Array,
    Result,
    after_each_step,
    default_float32_cell,
    ffi_call,
    in_time_order,
    on_cpu,
    require_library,
)


def _fwd_call(zero_output: bool, x, w, b_in, b_rec, u, h0, mask, save: bool) -> tuple:
    batch, time, _ = x.shape
    units = u.shape[0]
    # The gates, r_h and the h before each step only for the backward.
    seq, gates = ((batch, time, units), (batch, time, 3 * units)) if save else ((0,), (0,))
    out = [(batch, time, units), (batch, units), gates, seq, seq]
    return ffi_call("lstmkit_gru_fwd", out)(
        x, w, b_in, b_rec, u, h0, mask, zero_output=int(zero_output)
    )


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def native_gru_scan(zero_output: bool, x, w, b_in, b_rec, u, h0, mask) -> tuple[Array, Array]:
    """Batch-major GRU (reset_after=True): x (batch, time, features), kernel w (features, 3u),
    input and recurrent biases b_in, b_rec (3u), recurrent kernel u (units, 3u), h0 (batch,
    units), mask (batch, time) booleans or (0,) -> (outputs (batch, time, units), final h)."""
    ys, h_t, *_ = _fwd_call(zero_output, x, w, b_in, b_rec, u, h0, mask, save=False)
    return ys, h_t


def _native_fwd(zero_output, x, w, b_in, b_rec, u, h0, mask):
    ys, h_t, gates, rh, hp = _fwd_call(zero_output, x, w, b_in, b_rec, u, h0, mask, save=True)
    return (ys, h_t), (x, w, u, mask, gates, rh, hp)


def _native_bwd(zero_output, residuals, cotangents):
    x, w, u, mask, gates, rh, hp = residuals
    d_ys, d_h = cotangents
    batch, time, features = x.shape
    units = u.shape[0]
    out = [(batch, time, 3 * units), (features, 3 * units), (units, 3 * units), (2, 3 * units),
           (batch, units)]  # fmt: skip
    # d_in is written over the saved gates, as in the LSTM's backward (lstm.py says why).
    d_in, d_w, d_u, d_b, d_h0 = ffi_call("lstmkit_gru_bwd", out, aliases={3: 0})(
        x, u, mask, gates, rh, hp, d_ys, d_h, zero_output=int(zero_output)
    )
    d_x = d_in @ w.T  # (batch, time, features); XLA drops it when nothing needs it
    return d_x, d_w, d_b[0], d_b[1], d_u, d_h0, None


native_gru_scan.defvjp(_native_fwd, _native_bwd)


def _operands(x, kernel, bias, recurrent_kernel, initial_states, mask, go_backwards) -> tuple:
    """The kernel's operands from a layer's: x (flipped in time for go_backwards), the two bias
    rows (zeros when there is none), a float32 h0, and the mask or (0,) for none."""
    x, mask = in_time_order(x, mask, go_backwards)
    units = recurrent_kernel.shape[0]
    if bias is None:
        bias = jnp.zeros((2, 3 * units), jnp.float32)
    h0 = jnp.asarray(initial_states[0], jnp.float32)
    return x, kernel, bias[0], bias[1], recurrent_kernel, h0, mask


def native_gru(
    x: Array,
    kernel: Array,
    bias: Array | None,
    recurrent_kernel: Array,
    initial_states: list,
    *,
    mask: Array | None = None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
) -> Result:
    """A GRU layer (reset_after=True; `bias` as Keras stores it, (2, 3 * units) rows input and
    recurrent, or None) over (batch, time, features) through the native kernel, with
    `rnn_scan`'s contract: (last output, outputs (batch, time, units) or None, [h])."""
    require_library()
    operands = _operands(x, kernel, bias, recurrent_kernel, initial_states, mask, go_backwards)
    ys, h_t = native_gru_scan(bool(zero_output_for_mask), *operands)
    return ys[:, -1], ys if return_sequences else None, [h_t]


def applies(cell: Any, params: dict, x: Array, initial_states: list) -> bool:
    """Whether the native kernel computes this GRUCell's math: Keras's default activations and
    reset_after, float32 throughout, more than a streamed step, and the library loaded."""
    streamed = x.ndim == 3 and x.shape[0] * x.shape[1] <= 4 and x.shape[1] < 4
    return (
        build.enabled()
        and default_float32_cell(cell, params, x, initial_states)
        and bool(getattr(cell, "reset_after", False))
        and not streamed
        and build.available()
    )


def try_native_gru(
    cell: Any,
    params: dict,
    x: Array,
    initial_states: list,
    *,
    mask: Array | None,
    go_backwards: bool,
    zero_output_for_mask: bool,
    return_sequences: bool,
    fallback: Callable[[], Result],
) -> Result | None:
    """The native kernel on CPU (`fallback()`, the XLA path, on other platforms) when it applies
    to this GRUCell, else None. Input dropout, if any, is already applied to `x`."""
    if not applies(cell, params, x, initial_states):
        return None
    return on_cpu(native_gru, params, x, initial_states, fallback, mask=mask,
                  go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask,
                  return_sequences=return_sequences)  # fmt: skip


def try_native_gru_trace(
    cell: Any,
    params: dict,
    x: Array,
    initial_states: list,
    *,
    mask: Array | None,
    go_backwards: bool,
    zero_output_for_mask: bool,
    fallback: Callable[[], tuple],
) -> tuple | None:
    """The glass box's pass for a GRU the native kernel runs (as lstm.try_native_trace): the same
    kernel, with the gates it computed, in `rnn_scan(..., return_extras=True)`'s form, so that
    the traced hidden_state is bitwise what the layer returns. None when the kernel does not
    apply; `fallback()` (the reference scan) off CPU."""
    if not applies(cell, params, x, initial_states):
        return None

    def native() -> tuple:
        operands = _operands(x, params["kernel"], params.get("bias"), params["recurrent_kernel"],
                             initial_states, mask, go_backwards)  # fmt: skip
        ys, h_t, gates, _, hp = _fwd_call(bool(zero_output_for_mask), *operands, save=True)
        z, r, h_tilde = jnp.split(gates, 3, axis=-1)  # (batch, time, units) each
        h_after = after_each_step(hp, h_t)
        named = {"update_gate": z, "reset_gate": r, "candidate": h_tilde, "hidden_state": h_after}
        return ys[:, -1], ys, [h_t], (named, [h_after])

    return lax.platform_dependent(cpu=native, default=fallback)
