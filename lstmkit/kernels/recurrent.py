"""Recurrent math: one step function per cell and the scan that runs a step over time.

Everything here is a pure function of arrays. Cells split their work in two: the input projection
`x @ kernel + bias` for all time steps at once (one large matrix product), then a step that adds the
recurrent product and applies the gates. The step is the single source of truth for each cell's
equations; faster paths are tested against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Activation = Callable[[Array], Array]


def _recurrent_product(h: Array, recurrent_kernel: Array, gates: int, rec_mask: Array | None):
    """h @ U, with an optional dropout mask on h: one mask (batch, units) or one per gate."""
    if rec_mask is None:
        return h @ recurrent_kernel  # (batch, gates*units)
    if rec_mask.ndim == 2:
        return (h * rec_mask) @ recurrent_kernel
    # Per-gate masks (gates, batch, units), as Keras's implementation 1 draws them.
    blocks = jnp.split(recurrent_kernel, gates, axis=1)
    return jnp.concatenate([(h * m) @ u for m, u in zip(rec_mask, blocks)], axis=-1)


def input_projection(
    x: Array, kernel: Array, bias: Array | None, gates: int, in_mask: Array | None = None
) -> Array:
    """x @ kernel + bias over every time step: (batch, time, in) -> (batch, time, gates*units).

    `in_mask` is the input dropout mask, drawn once per call: (batch, in) or (gates, batch, in).
    """
    if in_mask is None:
        z = x @ kernel
    elif in_mask.ndim == 2:
        z = (x * in_mask[:, None, :]) @ kernel
    else:
        blocks = jnp.split(kernel, gates, axis=1)
        z = jnp.concatenate([(x * m[:, None, :]) @ k for m, k in zip(in_mask, blocks)], axis=-1)
    if bias is not None:
        z = z + bias
    return z


def lstm_gates(
    x_proj_t: Array,
    h: Array,
    c: Array,
    recurrent_kernel: Array,
    activation: Activation,
    recurrent_activation: Activation,
    rec_mask: Array | None = None,
) -> dict[str, Array]:
    """Every internal quantity of one LSTM step (gate order i, f, c, o as Keras stores them)."""
    z = x_proj_t + _recurrent_product(h, recurrent_kernel, 4, rec_mask)  # (batch, 4*units)
    z_i, z_f, z_c, z_o = jnp.split(z, 4, axis=-1)  # each (batch, units)
    i = recurrent_activation(z_i)
    f = recurrent_activation(z_f)
    c_tilde = activation(z_c)
    o = recurrent_activation(z_o)
    c_new = f * c + i * c_tilde
    h_new = o * activation(c_new)
    return {"i": i, "f": f, "c_tilde": c_tilde, "o": o, "c": c_new, "h": h_new}


def lstm_step(x_proj_t, states, recurrent_kernel, activation, recurrent_activation, rec_mask=None):
    """One LSTM step: returns (h, [h, c])."""
    h, c = states
    g = lstm_gates(x_proj_t, h, c, recurrent_kernel, activation, recurrent_activation, rec_mask)
    return g["h"], [g["h"], g["c"]]


def gru_gates(
    x_proj_t: Array,
    h: Array,
    recurrent_kernel: Array,
    recurrent_bias: Array | None,
    activation: Activation,
    recurrent_activation: Activation,
    reset_after: bool,
    rec_mask: Array | None = None,
) -> dict[str, Array]:
    """Every internal quantity of one GRU step (gate order z, r, h as Keras stores them).

    `x_proj_t` already holds x @ kernel + input bias; with reset_after the recurrent bias is
    added to h @ U before the reset gate multiplies it (Keras's default, the cuDNN form).
    """
    units = h.shape[-1]
    x_z, x_r, x_h = jnp.split(x_proj_t, 3, axis=-1)  # each (batch, units)
    if reset_after:
        inner = _recurrent_product(h, recurrent_kernel, 3, rec_mask)  # (batch, 3*units)
        if recurrent_bias is not None:
            inner = inner + recurrent_bias
    else:
        u_zr = recurrent_kernel[:, : 2 * units]
        m_zr = None if rec_mask is None else (rec_mask if rec_mask.ndim == 2 else rec_mask[:2])
        inner = _recurrent_product(h, u_zr, 2, m_zr)  # (batch, 2*units)
    z = recurrent_activation(x_z + inner[:, :units])
    r = recurrent_activation(x_r + inner[:, units : 2 * units])
    if reset_after:
        rec_h = r * inner[:, 2 * units :]
    else:
        h_h = h if rec_mask is None else h * (rec_mask if rec_mask.ndim == 2 else rec_mask[2])
        rec_h = (r * h_h) @ recurrent_kernel[:, 2 * units :]
    h_tilde = activation(x_h + rec_h)
    h_new = z * h + (1.0 - z) * h_tilde
    return {"z": z, "r": r, "h_tilde": h_tilde, "h": h_new}


def gru_step(x_proj_t, states, recurrent_kernel, recurrent_bias, activation, recurrent_activation,
             reset_after, rec_mask=None):  # fmt: skip
    """One GRU step: returns (h, [h])."""
    (h,) = states
    g = gru_gates(
        x_proj_t, h, recurrent_kernel, recurrent_bias, activation, recurrent_activation,
        reset_after, rec_mask,
    )  # fmt: skip
    return g["h"], [g["h"]]


def simple_step(x_proj_t, states, recurrent_kernel, activation, rec_mask=None):
    """One SimpleRNN step: h = act(x @ W + b + h @ U); returns (h, [h])."""
    (h,) = states
    h_new = activation(x_proj_t + _recurrent_product(h, recurrent_kernel, 1, rec_mask))
    return h_new, [h_new]


def _first_state(states: Sequence[Any]) -> Array:
    """The previous output: Keras takes it to be the first state (of the last cell if stacked)."""
    first = states[0]
    return states[-1][0] if isinstance(first, (list, tuple)) else first


def rnn_scan(
    step: Callable[[Any, list], tuple[Array, list]],
    xs: Any,
    initial_states: list,
    *,
    mask: Array | None = None,
    go_backwards: bool = False,
    unroll: bool | int = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
) -> tuple[Array, Array | None, list]:
    """Run `step(x_t, states) -> (output, new_states)` over time.

    xs: a pytree of arrays shaped (batch, time, ...); mask: (batch, time) booleans.
    Returns (last_output (batch, units), outputs (batch, time, units) or None, final states).
    Outputs come in processing order, so with go_backwards the sequence is reversed, as in Keras.
    At a masked step the states are carried unchanged and the output repeats the previous output
    (the first state, as Keras assumes), or is zero with zero_output_for_mask.
    """
    xs_tm = jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), xs)  # (time, batch, ...)
    time_steps = jax.tree_util.tree_leaves(xs_tm)[0].shape[0]
    if go_backwards:
        xs_tm = jax.tree_util.tree_map(lambda a: jnp.flip(a, 0), xs_tm)
    if mask is not None:
        mask_tm = jnp.swapaxes(mask.astype(bool), 0, 1)[:, :, None]  # (time, batch, 1)
        if go_backwards:
            mask_tm = jnp.flip(mask_tm, 0)

    def body(carry, inputs):
        states, last = carry
        if mask is None:
            x_t = inputs
            out, new_states = step(x_t, states)
        else:
            x_t, m_t = inputs
            out, new_states = step(x_t, states)
            prev = jnp.zeros_like(out) if zero_output_for_mask else _first_state(states)
            out = jnp.where(m_t, out, prev)
            new_states = jax.tree_util.tree_map(
                lambda new, old: jnp.where(m_t, new, old), new_states, states
            )
        return (new_states, out), (out if return_sequences else None)

    # The output of step 0 fixes the shape of `last`; a zero placeholder of that shape starts it.
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs_tm)
    out_shape = jax.eval_shape(lambda x, s: step(x, s)[0], x0, initial_states)
    last0 = jnp.zeros(out_shape.shape, out_shape.dtype)
    scan_xs = xs_tm if mask is None else (xs_tm, mask_tm)
    n_unroll = time_steps if unroll is True else max(1, int(unroll))
    (states, last), outputs = lax.scan(body, (initial_states, last0), scan_xs, unroll=n_unroll)
    if return_sequences:
        outputs = jnp.swapaxes(outputs, 0, 1)  # (batch, time, units)
    return last, outputs, states
