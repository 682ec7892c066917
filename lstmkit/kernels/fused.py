"""Fused recurrent path: a time loop that does only the recurrent product and the gate arithmetic.

The reference (`recurrent.rnn_scan` over a cell's step, differentiated by autodiff) projects each
step's input and, in the backward pass, accumulates the weight gradients one step at a time. Here:

- forward: the loop computes `x_t @ kernel + bias`, `h @ recurrent_kernel` and the gates (time-
  major), and saves the pre-activations and the states;
- backward (`jax.custom_vjp`): a reverse loop that does only the gate derivatives (autodiff of the
  per-step gate arithmetic) and `d_rec @ recurrent_kernel.T`; the gradients of the kernel, the
  recurrent kernel, the biases and the inputs are whole-sequence matrix products after the loop.

The gate arithmetic below restates the equations of `recurrent.lstm_gates` / `gru_gates` /
`simple_step` with the recurrent product given instead of computed; tests/kernels/test_fused.py
checks values and gradients against the reference scan.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from lstmkit.kernels.native import try_native_gru, try_native_lstm

Array = jax.Array
Activation = Callable[[Array], Array]

# Measured on the 2-core CPU (bench/results.md): unrolling did not lower the CPU time of a train
# step and lengthens compilation.
UNROLL = 1


class CellSpec(NamedTuple):
    """What the fused loop needs to know of a cell (hashable: a static argument)."""

    kind: str  # "lstm", "gru" or "simple"
    activation: Activation
    recurrent_activation: Activation
    reset_after: bool = True


def _gates(spec: CellSpec, zx: Array, rec: Array | None, states: list, u_h: Array | None) -> list:
    """Candidate new states from zx = x_t @ kernel + bias and rec = h @ recurrent_kernel (+ b).

    For LSTM and SimpleRNN only the sum matters: rec=None means zx already holds it."""
    act, rec_act = spec.activation, spec.recurrent_activation
    h = states[0]
    if spec.kind != "gru":
        z = zx if rec is None else zx + rec  # (batch, g*units)
        if spec.kind == "simple":
            return [act(z)]
        # As recurrent.lstm_gates_from: the gate arithmetic in the wider of z's and c's dtypes
        # (float32 under a mixed policy, which carries c in float32), h back in z's.
        wide = jnp.promote_types(z.dtype, states[1].dtype)
        z_i, z_f, z_c, z_o = jnp.split(z.astype(wide), 4, axis=-1)  # each (batch, units)
        c_new = rec_act(z_f) * states[1] + rec_act(z_i) * act(z_c)
        return [(rec_act(z_o) * act(c_new)).astype(z.dtype), c_new]
    units = h.shape[-1]
    x_z, x_r, x_h = jnp.split(zx, 3, axis=-1)  # each (batch, units)
    z = rec_act(x_z + rec[:, :units])
    r = rec_act(x_r + rec[:, units : 2 * units])
    if spec.reset_after:
        h_tilde = act(x_h + r * rec[:, 2 * units :])
    else:  # rec holds only the z and r products; the candidate needs (r * h) @ U_h
        h_tilde = act(x_h + (r * h) @ u_h)
    return [z * h + (1.0 - z) * h_tilde]


def _masked_step(spec, zero_output, u_h, zx, rec, states, m):
    """One step's new states and output, with Keras's masking: a masked step carries the
    states and repeats the previous output (the first state), or outputs zeros."""
    new = _gates(spec, zx, rec, states, u_h)
    out = new[0]
    if m is None:
        return new, out
    prev = jnp.zeros_like(out) if zero_output else states[0]
    out = jnp.where(m, out, prev)  # m: (batch, 1)
    return [jnp.where(m, n, s) for n, s in zip(new, states)], out


def _forward(spec, zero_output, unroll, inputs, u, b_rec, u_h, init, mask, save: bool):
    """The forward loop. Measured here: projecting each step's input inside the loop costs less
    than one whole-sequence product before it (the small product rides along with h @ U)."""
    x, w, b_in = inputs

    def body(states, step_inputs):
        x_t, m_t = step_inputs
        zx_t = x_t @ w  # (batch, g*units)
        zx_t = zx_t if b_in is None else zx_t + b_in
        rec_t = states[0] @ u  # (batch, g*units)
        rec_t = rec_t if b_rec is None else rec_t + b_rec
        if spec.kind != "gru":  # only the sum is needed, saved once
            zx_t, rec_t = zx_t + rec_t, None
        new, out = _masked_step(spec, zero_output, u_h, zx_t, rec_t, states, m_t)
        return new, ((out, zx_t, rec_t, states) if save else out)

    return lax.scan(body, list(init), (x, mask), unroll=unroll)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def fused_scan(spec, zero_output, unroll, inputs, u, b_rec, u_h, init, mask):
    """The time loop, time-major. inputs = (x (time, batch, features), kernel, input bias or
    None); returns (outputs (time, batch, units), final states). `u` is the recurrent kernel of
    `h @ u` (for GRU without reset_after its z and r columns, `u_h` the rest); `b_rec` GRU's
    recurrent bias or None; mask (time, batch, 1) booleans or None."""
    final, outputs = _forward(spec, zero_output, unroll, inputs, u, b_rec, u_h, init, mask, False)
    return outputs, final


def _fused_fwd(spec, zero_output, unroll, inputs, u, b_rec, u_h, init, mask):
    final, (outputs, zxs, recs, prev) = _forward(
        spec, zero_output, unroll, inputs, u, b_rec, u_h, init, mask, True
    )
    return (outputs, final), (inputs, zxs, u, b_rec, u_h, mask, recs, prev)


def _sum_outer(a: Array, b: Array) -> Array:
    """sum over time and batch of a_t^T b_t: (time, batch, m), (time, batch, n) -> (m, n).
    As one 2-D product: measured 1.5x cheaper than the 3-D einsum on this CPU."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def _fused_bwd(spec, zero_output, unroll, residuals, cotangents):
    (x, w, b_in), zxs, u, b_rec, u_h, mask, recs, prev = residuals
    d_outputs, d_final = cotangents
    u_t = u.T  # (g*units, units), transposed once, outside the loop

    def body(d_states, step_inputs):
        zx_t, rec_t, s_prev, m_t, d_out = step_inputs

        def step(zx_, rec_, s_):
            return _masked_step(spec, zero_output, u_h, zx_, rec_, s_, m_t)

        if rec_t is None:  # LSTM, SimpleRNN: d(rec) = d(zx) = d(pre-activations)
            _, pullback = jax.vjp(lambda zx_, s_: step(zx_, None, s_), zx_t, s_prev)
            d_zx, d_prev = pullback((d_states, d_out))
            d_rec = d_zx
        else:
            _, pullback = jax.vjp(step, zx_t, rec_t, s_prev)
            d_zx, d_rec, d_prev = pullback((d_states, d_out))
        d_prev = [d_prev[0] + d_rec @ u_t, *d_prev[1:]]  # (batch, units)
        return d_prev, (d_zx, None if rec_t is None else d_rec)

    d_init, (d_zx, d_recs) = lax.scan(
        body, list(d_final), (zxs, recs, prev, mask, d_outputs), reverse=True, unroll=unroll
    )
    d_recs = d_zx if d_recs is None else d_recs  # (time, batch, g*units)
    h_prev = prev[0]  # (time, batch, units)
    # The weight gradients: one whole-sequence product each, after the loop.
    d_u = _sum_outer(h_prev, d_recs)  # (units, g*units)
    d_b = None if b_rec is None else d_recs.sum((0, 1))
    d_uh = None
    if u_h is not None:  # GRU without reset_after: d U_h = sum_t (r_t * h_t-1)^T d(x_h)_t
        units = u_h.shape[0]
        r = spec.recurrent_activation(zxs[..., units : 2 * units] + recs[..., units:])
        d_uh = _sum_outer(r * h_prev, d_zx[..., 2 * units :])  # (units, units)
    d_x = d_zx @ w.T  # (time, batch, features)
    d_w = _sum_outer(x, d_zx)  # (features, g*units)
    d_b_in = None if b_in is None else d_zx.sum((0, 1))
    return (d_x, d_w, d_b_in), d_u, d_b, d_uh, d_init, None


fused_scan.defvjp(_fused_fwd, _fused_bwd)


def fused_rnn(
    spec: CellSpec,
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
    unroll: int = UNROLL,
) -> tuple[Array, Array | None, list]:
    """Run a cell over (batch, time, features) inputs; the same contract as `rnn_scan`:
    (last output, outputs (batch, time, units) in processing order or None, final states).

    `bias` is the cell's bias as stored (GRU with reset_after: (2, 3*units)).
    """
    x_tm = jnp.swapaxes(x, 0, 1)  # (time, batch, features)
    mask_tm = None if mask is None else jnp.swapaxes(mask.astype(bool), 0, 1)[:, :, None]
    if go_backwards:
        x_tm = jnp.flip(x_tm, 0)
        mask_tm = None if mask_tm is None else jnp.flip(mask_tm, 0)
    b_in, b_rec, u, u_h = bias, None, recurrent_kernel, None
    if spec.kind == "gru":
        units = recurrent_kernel.shape[0]
        if spec.reset_after and bias is not None:
            b_in, b_rec = bias[0], bias[1]
        if not spec.reset_after:
            u, u_h = recurrent_kernel[:, : 2 * units], recurrent_kernel[:, 2 * units :]
    # h in the inputs' dtype; an LSTM's cell state may be wider (float32 under a mixed policy).
    init = [jnp.asarray(s, x.dtype if k == 0 else jnp.promote_types(x.dtype, s.dtype))
            for k, s in enumerate(initial_states)]  # fmt: skip
    outputs, final = fused_scan(
        spec, bool(zero_output_for_mask), int(unroll), (x_tm, kernel, b_in), u, b_rec, u_h,
        init, mask_tm,
    )  # fmt: skip
    last = outputs[-1]  # (batch, units)
    seq = jnp.swapaxes(outputs, 0, 1) if return_sequences else None  # (batch, time, units)
    return last, seq, final


def _enabled() -> bool:
    return _ENABLED[0]


_ENABLED = [True]


def set_enabled(enabled: bool) -> None:
    """Switch the fused path on or off (off: every layer runs the reference scan)."""
    _ENABLED[0] = bool(enabled)


def try_fused_rnn(
    kind: str | None,
    cell: Any,
    params: dict,
    x: Array,
    initial_states: list,
    *,
    in_mask: Array | None,
    rec_mask: Any,
    mask: Array | None,
    go_backwards: bool,
    zero_output_for_mask: bool,
    return_sequences: bool,
) -> tuple[Array, Array | None, list] | None:
    """The fused path for a plain LSTM/GRU/SimpleRNN cell (`kind`), or None when the reference
    scan must run: fused path switched off, another cell, recurrent dropout, or input dropout
    drawn per gate. An LSTM or a GRU on CPU runs the native kernel (kernels/native) where it
    applies."""
    if not _enabled() or kind not in ("lstm", "gru", "simple"):
        return None
    if rec_mask is not None or (in_mask is not None and in_mask.shape[0] != 1):
        return None
    spec = CellSpec(
        kind,
        cell.activation,
        getattr(cell, "recurrent_activation", cell.activation),
        bool(getattr(cell, "reset_after", True)),
    )
    if in_mask is not None:
        x = x * in_mask[0][:, None, :]  # (batch, 1, in): one mask for every step and gate

    def run_fused() -> tuple[Array, Array | None, list]:
        return fused_rnn(
            spec, x, params["kernel"], params.get("bias"), params["recurrent_kernel"],
            list(initial_states), mask=mask, go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask, return_sequences=return_sequences,
        )  # fmt: skip

    try_native = {"lstm": try_native_lstm, "gru": try_native_gru}.get(kind)
    if try_native is not None:  # on CPU, the native kernel where it applies (kernels/native)
        native = try_native(
            cell, params, x, list(initial_states), mask=mask, go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask, return_sequences=return_sequences,
            fallback=run_fused,
        )  # fmt: skip
        if native is not None:
            return native
    return run_fused()
