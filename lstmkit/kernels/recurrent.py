"""Recurrent math: one step function per cell and the one masked scan that runs a step over time.

Everything here is a pure function of arrays. The `*_gates` functions are the single source of
truth for each cell's equations: they return every internal quantity of one step, by name. The
`*_step` functions are the (output, new_states) view of them. Faster paths are tested against
these.

Dropout masks have one shape everywhere: (k, batch, dim), where k = 1 (one mask for every gate)
or k = gates (one mask per gate, Keras's implementation 1). `masked_matmul` is the one place that
applies them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array
Activation = Callable[[Array], Array]


def masked_matmul(v: Array, w: Array, mask: Array | None = None) -> Array:
    """v @ w with dropout on v: `mask` (k, batch, dim) gives the k column blocks of w their own.

    v: (batch, ..., dim), w: (dim, n) -> (batch, ..., n).
    """
    if mask is None:
        return v @ w
    # (k, batch, dim) -> (k, batch, 1, ..., 1, dim): broadcast over any time axes of v
    mask = mask.reshape(mask.shape[:2] + (1,) * (v.ndim - 2) + mask.shape[2:])
    blocks = jnp.split(w, mask.shape[0], axis=-1)
    return jnp.concatenate([(v * m) @ b for m, b in zip(mask, blocks)], axis=-1)


def input_projection(
    x: Array, kernel: Array, bias: Array | None, gates: int = 1, in_mask: Array | None = None
) -> Array:
    """x @ kernel + bias, (batch, ..., in) -> (batch, ..., gates*units); `in_mask` (k, batch, in).

    `gates` is implied by the mask's first axis; it is kept for callers that name it.
    """
    z = masked_matmul(x, kernel, in_mask)
    return z if bias is None else z + bias


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
    z = x_proj_t + masked_matmul(h, recurrent_kernel, rec_mask)  # (batch, 4*units)
    return lstm_gates_from(z, c, activation, recurrent_activation)


def lstm_gates_from(
    z: Array, c: Array, activation: Activation, recurrent_activation: Activation, axis: int = -1
) -> dict[str, Array]:
    """The LSTM equations on the summed pre-activations `z` (the four gates i, f, c, o stacked
    along `axis`) and the previous cell state: ConvLSTM's convolutions end here too.

    The gate arithmetic runs in the wider of z's and c's dtypes and h comes back in z's: under a
    mixed policy the layer carries c in float32 (z, the matrix products, in bfloat16), so the
    cell state keeps its memory over long sequences (see lstmkit.mixed_precision). With equal
    dtypes (any other policy) nothing is cast."""
    compute, c = z.dtype, jnp.asarray(c)  # a NumPy float64 c would be float32 in JAX anyway
    wide = jnp.promote_types(compute, c.dtype)
    z = z if wide == compute else z.astype(wide)  # exact: bfloat16 -> float32
    z_i, z_f, z_c, z_o = jnp.split(z, 4, axis=axis)  # each (batch, ..., units)
    i = recurrent_activation(z_i)
    f = recurrent_activation(z_f)
    c_tilde = activation(z_c)
    o = recurrent_activation(z_o)
    c_new = f * c + i * c_tilde
    h_new = o * activation(c_new)
    h_new = h_new if wide == compute else h_new.astype(compute)  # the layer's output dtype
    return {
        "input_gate": i,
        "forget_gate": f,
        "candidate": c_tilde,
        "output_gate": o,
        "cell_state": c_new,
        "hidden_state": h_new,
    }


def lstm_step(x_proj_t, states, recurrent_kernel, activation, recurrent_activation, rec_mask=None):
    """One LSTM step: returns (h, [h, c])."""
    h, c = states
    g = lstm_gates(x_proj_t, h, c, recurrent_kernel, activation, recurrent_activation, rec_mask)
    return g["hidden_state"], [g["hidden_state"], g["cell_state"]]


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
        inner = masked_matmul(h, recurrent_kernel, rec_mask)  # (batch, 3*units)
        if recurrent_bias is not None:
            inner = inner + recurrent_bias
    else:  # z and r from h @ U[:, :2u]; the candidate from (r * h) @ U[:, 2u:]
        m_zr = None if rec_mask is None else rec_mask[:2]  # one mask, or the z and r masks
        inner = masked_matmul(h, recurrent_kernel[:, : 2 * units], m_zr)  # (batch, 2*units)
    z = recurrent_activation(x_z + inner[:, :units])
    r = recurrent_activation(x_r + inner[:, units : 2 * units])
    if reset_after:
        rec_h = r * inner[:, 2 * units :]
    else:
        m_h = None if rec_mask is None else rec_mask[-1:]  # one mask, or the candidate's
        rec_h = masked_matmul(r * h, recurrent_kernel[:, 2 * units :], m_h)  # (batch, units)
    h_tilde = activation(x_h + rec_h)
    h_new = z * h + (1.0 - z) * h_tilde
    return {"update_gate": z, "reset_gate": r, "candidate": h_tilde, "hidden_state": h_new}


def gru_step(x_proj_t, states, recurrent_kernel, recurrent_bias, activation, recurrent_activation,
             reset_after, rec_mask=None):  # fmt: skip
    """One GRU step: returns (h, [h])."""
    (h,) = states
    g = gru_gates(
        x_proj_t, h, recurrent_kernel, recurrent_bias, activation, recurrent_activation,
        reset_after, rec_mask,
    )  # fmt: skip
    return g["hidden_state"], [g["hidden_state"]]


def simple_gates(
    x_proj_t: Array, h: Array, recurrent_kernel: Array, activation: Activation, rec_mask=None
) -> dict[str, Array]:
    """One SimpleRNN step: h = act(x @ W + b + h @ U)."""
    return {"hidden_state": activation(x_proj_t + masked_matmul(h, recurrent_kernel, rec_mask))}


def simple_step(x_proj_t, states, recurrent_kernel, activation, rec_mask=None):
    """One SimpleRNN step: returns (h, [h])."""
    h_new = simple_gates(x_proj_t, states[0], recurrent_kernel, activation, rec_mask)
    return h_new["hidden_state"], [h_new["hidden_state"]]


def _first_state(states: Sequence[Any]) -> Array:
    """The previous output: Keras takes it to be the first state (of the last cell if stacked)."""
    first = states[0]
    return states[-1][0] if isinstance(first, (list, tuple)) else first


def _per_row(m_t: Array, like: Array) -> Array:
    """A step's mask (batch,) shaped to broadcast over `like` (batch, ...): (batch, 1, ...)."""
    return m_t.reshape(m_t.shape + (1,) * (like.ndim - 1))


def rnn_scan(
    step: Callable[[Any, Any], tuple],
    xs: Any,
    initial_states: Any,
    *,
    mask: Array | None = None,
    go_backwards: bool = False,
    unroll: bool | int = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
    return_extras: bool = False,
) -> tuple:
    """Run `step(x_t, states) -> (output, new_states[, extras])` over time.

    xs: a pytree of arrays shaped (batch, time, ...); mask: (batch, time) booleans.
    Returns (last_output (batch, units), outputs (batch, time, units) or None, final states), and
    with `return_extras` a fourth item `(extras, states)` stacked over time, (batch, time, ...):
    the step's extras (a pytree, e.g. an LSTM's gates) as the step computed them, and the states
    carried after each step. Without it the extras are dropped inside the loop (XLA removes
    whatever only they needed), so asking costs nothing when one does not ask.
    Outputs come in processing order, so with go_backwards the sequence is reversed, as in Keras.
    At a masked step the states are carried unchanged and the output repeats the previous output
    (the first state, as Keras assumes), or is zero with zero_output_for_mask.
    """
    xs_tm = jax.tree_util.tree_map(lambda a: jnp.swapaxes(a, 0, 1), xs)  # (time, batch, ...)
    time_steps = jax.tree_util.tree_leaves(xs_tm)[0].shape[0]
    if go_backwards:
        xs_tm = jax.tree_util.tree_map(lambda a: jnp.flip(a, 0), xs_tm)
    if mask is not None:
        mask_tm = jnp.swapaxes(mask.astype(bool), 0, 1)  # (time, batch)
        if go_backwards:
            mask_tm = jnp.flip(mask_tm, 0)

    def body(carry, inputs):
        states, last = carry
        x_t, m_t = inputs if mask is not None else (inputs, None)
        out, new_states, *extras = step(x_t, states)
        if m_t is not None:
            prev = jnp.zeros_like(out) if zero_output_for_mask else _first_state(states)
            out = jnp.where(_per_row(m_t, out), out, prev)
            new_states = jax.tree_util.tree_map(
                lambda new, old: jnp.where(_per_row(m_t, new), new, old), new_states, states
            )
        step_extras = (extras[0] if extras else {}, new_states) if return_extras else None
        per_step = (out if return_sequences else None, step_extras)
        return (new_states, out), per_step

    # The output of step 0 fixes the shape of `last`; a zero placeholder of that shape starts it.
    x0 = jax.tree_util.tree_map(lambda a: a[0], xs_tm)
    out_shape = jax.eval_shape(lambda x, s: step(x, s)[0], x0, initial_states)
    last0 = jnp.zeros(out_shape.shape, out_shape.dtype)
    scan_xs = xs_tm if mask is None else (xs_tm, mask_tm)
    n_unroll = time_steps if unroll is True else max(1, int(unroll))
    (states, last), (outputs, extras) = lax.scan(
        body, (initial_states, last0), scan_xs, unroll=n_unroll
    )
    batch_major = lambda a: jnp.swapaxes(a, 0, 1)  # noqa: E731  (time, batch) -> (batch, time)
    if return_sequences:
        outputs = batch_major(outputs)  # (batch, time, units)
    if return_extras:
        return last, outputs, states, jax.tree_util.tree_map(batch_major, extras)
    return last, outputs, states
