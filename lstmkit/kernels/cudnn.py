"""The GPU path of LSTM: cuDNN through `jax.experimental.rnn`, where the semantics allow.

As Keras does on TensorFlow, an LSTM runs on cuDNN when its math is cuDNN's: tanh and sigmoid,
a bias, no recurrent dropout, `unroll=False`, no mask or a right-padded one, float32. Everything
else (GRU included) takes the fused scan of kernels/fused.py.

cuDNN's LSTM is PyTorch's: W_ih (4u, in), W_hh (4u, u), two biases b_ih and b_hh, gate order
i, f, g, o, all packed in one flat vector (`pack_weights`). Keras's kernel (in, 4u), recurrent
kernel (u, 4u) and bias (4u,) have the same gate order (i, f, c, o), so packing is two
transposes; Keras's one bias goes into b_ih and b_hh is zero (the sum is what counts).
Gradients flow back through the packing to Keras's weights.

cuDNN runs each row for its `seq_lengths` steps and writes zeros after them; Keras's masking
repeats the last output there (or zeros with `zero_output_for_mask`), and with `go_backwards` it
runs the reversed sequence, whose padding then comes first. The wrapper restates both from
cuDNN's outputs. cuDNN rejects a zero length: such rows run one step and are replaced by their
initial states afterwards.

On a CPU the primitive has no lowering; `set_mode("on")` then runs `jax.experimental.rnn
.lstm_ref` on the same packed weights, which is how tests/kernels/test_cudnn.py checks the
wrapper against the reference scan without a GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import rnn

from lstmkit.kernels import activations, precision

Array = jax.Array
Result = tuple[Array, Array | None, list]  # (last output, outputs or None, final states)

_MODE = ["auto"]  # "auto": on a GPU with cuDNN; "on": always (lstm_ref off a GPU); "off": never


def set_mode(mode: str) -> None:
    """ "auto" (the default: cuDNN on a CUDA GPU), "on" (forced; off a GPU the packed weights run
    through `jax.experimental.rnn.lstm_ref`, for tests) or "off"."""
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"cudnn.set_mode: expected 'auto', 'on' or 'off', got {mode!r}.")
    _MODE[0] = mode


def get_mode() -> str:
    return _MODE[0]


def gpu_available() -> bool:
    """Whether cuDNN's LSTM can run: jaxlib's GPU RNN kernels and a default GPU backend."""
    return getattr(rnn, "gpu_rnn", None) is not None and jax.default_backend() == "gpu"


def pack_weights(kernel: Array, recurrent_kernel: Array, bias: Array) -> Array:
    """Keras's LSTM weights -> cuDNN's flat vector (W_ih, W_hh, b_ih, b_hh), one layer."""
    units = recurrent_kernel.shape[0]
    b_hh = jnp.zeros((4 * units,), kernel.dtype)
    parts = [kernel.T, recurrent_kernel.T, bias, b_hh]  # (4u, in), (4u, u), (4u,), (4u,)
    return jnp.concatenate([p.reshape(-1) for p in parts])


def unpack_weights(weights: Array, input_size: int, units: int) -> tuple[Array, Array, Array]:
    """cuDNN's flat vector -> Keras's (kernel, recurrent_kernel, bias); the two biases summed."""
    w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, input_size, units, 1, False)
    return w_ih[0].T, w_hh[0].T, b_ih[0] + b_hh[0]


def is_right_padded(mask: Array) -> Array:
    """Whether every row of a (batch, time) mask is True up to its length and False after."""
    lengths = mask.sum(axis=1)  # (batch,)
    return jnp.all(mask == (jnp.arange(mask.shape[1])[None, :] < lengths[:, None]))


def _cudnn_precision() -> Any:
    """lstmkit's setting for cuDNN: HIGHEST (no TF32), HIGH (TF32), or None (cuDNN's default,
    TF32) where the setting leaves it to JAX and JAX says DEFAULT, which cuDNN's wrapper
    rejects for float32."""
    traced = precision.traced_precision()
    if isinstance(traced, tuple) and traced[0] in (lax.Precision.HIGHEST, lax.Precision.HIGH):
        return traced
    return None


def _run(x, h0, c0, weights, lengths, use_primitive: bool) -> tuple[Array, Array, Array]:
    """One cuDNN LSTM layer: (outputs (batch, time, units), h_n, c_n), rows run `lengths` steps."""
    features, units = x.shape[-1], h0.shape[-1]
    if use_primitive:
        y, h_n, c_n = rnn.lstm(
            x, h0[None], c0[None], weights, lengths, input_size=features, hidden_size=units,
            num_layers=1, dropout=0.0, bidirectional=False,
            precision=_cudnn_precision(),
        )  # fmt: skip
    else:
        w_ih, w_hh, b_ih, b_hh = rnn.unpack_lstm_weights(weights, features, units, 1, False)
        y, h_n, c_n = rnn.lstm_ref(
            x, h0[None], c0[None], w_ih, w_hh, b_ih, b_hh, lengths, features, units, 1, 0.0, False
        )
    return y, h_n[0], c_n[0]


def cudnn_lstm(
    x: Array,
    kernel: Array,
    recurrent_kernel: Array,
    bias: Array,
    initial_states: list,
    *,
    mask: Array | None = None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
    use_primitive: bool = True,
) -> Result:
    """An LSTM layer on cuDNN with `rnn_scan`'s contract and Keras's masking; `mask`, if given,
    must be right-padded (the caller checks)."""
    batch, time = x.shape[0], x.shape[1]
    h0, c0 = (jnp.asarray(s, x.dtype) for s in initial_states)
    steps = jnp.arange(time)[None, :]  # (1, time)
    lengths = jnp.full((batch,), time, jnp.int32) if mask is None else mask.sum(1).astype(jnp.int32)
    # go_backwards: each row reversed within its length, so that its padding stays at the end.
    if go_backwards:
        src = jnp.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
        x = jnp.take_along_axis(x, src[:, :, None], axis=1)  # (batch, time, features)
    weights = pack_weights(kernel, recurrent_kernel, bias)
    y, h_n, c_n = _run(x, h0, c0, weights, jnp.maximum(lengths, 1), use_primitive)
    empty = (lengths == 0)[:, None]  # (batch, 1): rows with no step at all keep their states
    h_n, c_n = jnp.where(empty, h0, h_n), jnp.where(empty, c0, c_n)
    # Keras's outputs in processing order: a masked step repeats the previous output (or 0).
    pad = jnp.zeros_like(h0) if zero_output_for_mask else None
    if go_backwards:  # processing order: the padding first, then the reversed valid steps
        idx = steps - (time - lengths[:, None])  # (batch, time): index into y, < 0 in padding
        y = jnp.take_along_axis(y, jnp.maximum(idx, 0)[:, :, None], axis=1)
        fill = h0 if pad is None else pad  # before any valid step the "previous output" is h0
        valid = idx >= 0
    else:
        fill = h_n if pad is None else pad  # after the last valid step it is that step's output
        valid = steps < lengths[:, None]
    outputs = jnp.where(valid[:, :, None], y, fill[:, None, :])  # (batch, time, units)
    return outputs[:, -1], (outputs if return_sequences else None), [h_n, c_n]


def cudnn_applies(cell: Any, params: dict, x: Array, rec_mask: Any, in_mask: Any,
                  unroll: Any) -> bool:  # fmt: skip
    """Keras's cuDNN conditions (its LSTM on TensorFlow) plus float32 and the mode."""
    mode = _MODE[0]
    if mode == "off" or (mode == "auto" and not gpu_available()):
        return False
    return (
        cell.activation is activations.tanh
        and cell.recurrent_activation is activations.sigmoid
        and params.get("bias") is not None
        and rec_mask is None
        and (in_mask is None or in_mask.shape[0] == 1)
        and not unroll
        and x.dtype == jnp.float32
        and params["kernel"].dtype == jnp.float32
    )


def try_cudnn_lstm(
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
    unroll: Any,
    fallback: Callable[[], Result],
) -> Result | None:
    """cuDNN's LSTM for an LSTMCell where it applies, else None. A mask that turns out not to
    be right-padded (known only at run time) takes `fallback()` instead, through `lax.cond`."""
    if not cudnn_applies(cell, params, x, rec_mask, in_mask, unroll):
        return None
    if in_mask is not None:
        x = x * in_mask[0][:, None, :]  # (batch, 1, in): one input dropout mask for every step
    primitive = gpu_available()

    def run() -> Result:
        return cudnn_lstm(
            x, params["kernel"], params["recurrent_kernel"], params["bias"],
            list(initial_states), mask=mask, go_backwards=go_backwards,
            zero_output_for_mask=zero_output_for_mask, return_sequences=return_sequences,
            use_primitive=primitive,
        )  # fmt: skip

    if mask is None:
        return run()
    mask = mask.astype(bool)
    return lax.cond(is_right_padded(mask), run, fallback)
