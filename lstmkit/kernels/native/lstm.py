"""The native CPU LSTM (lstm_cpu.cc through jax.ffi) with a custom VJP, and its dispatch.

Forward: one FFI call runs the whole time loop, per step one product `[x_t, h] @ [W; U]` with the
gates applied in its registers (lstm_step.h says how). In training it also returns the activated
gates and the carried states before each step, which the backward call (the reverse loop, and
the weight gradients as whole-sequence products) reads. Every array is batch-major, as the layer
has it: no transposes around the calls. `dx = dz @ kernel.T` stays in XLA, so that XLA drops it
when the input is the model's input.

Used on CPU for an LSTMCell with Keras's default activations (tanh, sigmoid), float32, and no
recurrent dropout or per-gate input dropout; `lax.platform_dependent` keeps a program lowered
for another platform on the XLA path. `go_backwards` flips the sequence outside the kernel.
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


def _fwd_call(zero_output: bool, x, w, b, u, h0, c0, mask, save: bool) -> tuple:
    batch, time, _ = x.shape
    units = u.shape[0]
    # The gates and the states before each step only for the backward or the glass box.
    seq, gates = ((batch, time, units), (batch, time, 4 * units)) if save else ((0,), (0,))
    out = [(batch, time, units), (batch, units), (batch, units), gates, seq, seq]
    return ffi_call("lstmkit_lstm_fwd", out)(x, w, b, u, h0, c0, mask, zero_output=int(zero_output))


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def native_lstm_scan(zero_output: bool, x, w, b, u, h0, c0, mask) -> tuple[Array, Array, Array]:
    """Batch-major LSTM: x (batch, time, features), kernel w (features, 4u), bias b (4u),
    recurrent kernel u (units, 4u), h0, c0 (batch, units), mask (batch, time) booleans or (0,)
    -> (outputs (batch, time, units), final h, final c)."""
    ys, h_t, c_t, *_ = _fwd_call(zero_output, x, w, b, u, h0, c0, mask, save=False)
    return ys, h_t, c_t


def _native_fwd(zero_output, x, w, b, u, h0, c0, mask):
    ys, h_t, c_t, gates, hp, cp = _fwd_call(zero_output, x, w, b, u, h0, c0, mask, save=True)
    return (ys, h_t, c_t), (x, w, u, mask, gates, hp, cp, c_t)


def _native_bwd(zero_output, residuals, cotangents):
    x, w, u, mask, gates, hp, cp, c_t = residuals
    d_ys, d_h, d_c = cotangents
    batch, time, features = x.shape
    units = u.shape[0]
    out = [(batch, time, 4 * units), (features, 4 * units), (units, 4 * units), (4 * units,),
           (batch, units), (batch, units)]  # fmt: skip
    # d_z is written over the saved gates, which only this call reads: a fresh (batch, time, 4u)
    # buffer's every line would first be read from memory to be written (the train step 1-1.5 %
    # slower at (32, 80, 128, 128)), and it would be one more such array at peak.
    d_z, d_w, d_u, d_b, d_h0, d_c0 = ffi_call("lstmkit_lstm_bwd", out, aliases={3: 0})(
        x, u, mask, gates, hp, cp, c_t, d_ys, d_h, d_c, zero_output=int(zero_output)
    )
    d_x = d_z @ w.T  # (batch, time, features); XLA drops it when nothing needs it
    return d_x, d_w, d_b, d_u, d_h0, d_c0, None


native_lstm_scan.defvjp(_native_fwd, _native_bwd)


def _operands(x, kernel, bias, recurrent_kernel, initial_states, mask, go_backwards) -> tuple:
    """The kernel's operands from a layer's: x (flipped in time for go_backwards), the bias
    (zeros when there is none), float32 h0 and c0, and the mask or (0,) for none."""
    x, mask = in_time_order(x, mask, go_backwards)
    units = recurrent_kernel.shape[0]
    bias = jnp.zeros((4 * units,), jnp.float32) if bias is None else bias
    h0, c0 = (jnp.asarray(s, jnp.float32) for s in initial_states)
    return x, kernel, bias, recurrent_kernel, h0, c0, mask


def native_lstm(
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
    """An LSTM layer over (batch, time, features) through the native kernel, with `rnn_scan`'s
    contract: (last output, outputs (batch, time, units) or None, [h, c])."""
    require_library()
    operands = _operands(x, kernel, bias, recurrent_kernel, initial_states, mask, go_backwards)
    ys, h_t, c_t = native_lstm_scan(bool(zero_output_for_mask), *operands)
    return ys[:, -1], ys if return_sequences else None, [h_t, c_t]


def applies(cell: Any, params: dict, x: Array, initial_states: list) -> bool:
    """Whether the native kernel computes this LSTMCell's math: Keras's default activations,
    float32 throughout, and the library switched on and loaded."""
    return (
        build.enabled()
        and default_float32_cell(cell, params, x, initial_states)
        and build.available()
    )


def try_native_lstm(
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
    to this LSTMCell, else None. Input dropout, if any, is already applied to `x`."""
    if not applies(cell, params, x, initial_states):
        return None
    return on_cpu(native_lstm, params, x, initial_states, fallback, mask=mask,
                  go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask,
                  return_sequences=return_sequences)  # fmt: skip


def try_native_trace(
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
    """The glass box's pass for an LSTM the native kernel runs: the same kernel, with the gates
    and states it computed, in `rnn_scan(..., return_extras=True)`'s form (last output, outputs
    (batch, time, units), final states, (gates, [h, c] carried after each step)), so that the
    traced hidden_state is bitwise what the layer returns. None when the kernel does not apply;
    `fallback()` (the reference scan) off CPU."""
    if not applies(cell, params, x, initial_states):
        return None

    def native() -> tuple:
        operands = _operands(x, params["kernel"], params.get("bias"), params["recurrent_kernel"],
                             initial_states, mask, go_backwards)  # fmt: skip
        ys, h_t, c_t, gates, hp, cp = _fwd_call(bool(zero_output_for_mask), *operands, save=True)
        i, f, g, o = jnp.split(gates, 4, axis=-1)  # (batch, time, units) each
        states = [after_each_step(hp, h_t), after_each_step(cp, c_t)]
        named = {
            "input_gate": i,
            "forget_gate": f,
            "candidate": g,
            "output_gate": o,
            "hidden_state": states[0],
            "cell_state": states[1],
        }  # the step's names
        return ys[:, -1], ys, [h_t, c_t], (named, states)

    return lax.platform_dependent(cpu=native, default=fallback)
