"""PyTorch's LSTM/GRU weights <-> Keras's: the mapping, and reading a torch module or state_dict.

Per torch layer `l{k}` (and `l{k}_reverse`, the backward half of a bidirectional one):

- LSTM: `kernel = W_ih.T`, `recurrent_kernel = W_hh.T`, `bias = b_ih + b_hh`; both libraries order
  the gates i, f, g (Keras's c), o. On the way out the whole bias goes to `b_ih`, `b_hh` is zeros.
- GRU: torch orders the gates r, z, n and Keras z, r, h, so the first two blocks swap. torch's
  `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))` is Keras's `reset_after=True` form, whose bias
  (2, 3u) is `[b_ih, b_hh]` (permuted the same way): nothing is folded.

torch is imported only inside these functions, so lstmkit works without it.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

GATES = {"lstm": 4, "gru": 3}
KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?$")


def import_torch() -> Any:
    """The torch module, or an ImportError saying how to install it."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            "lstmkit's PyTorch interop needs PyTorch: pip install lstmkit[torch] "
            "(or pip install torch)."
        ) from e
    return torch


def to_numpy(value: Any) -> np.ndarray:
    """A torch tensor (any device, float16/bfloat16 too) or array-like -> numpy."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) not in ("torch.float32", "torch.float64"):
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def swap_gru_blocks(a: np.ndarray, units: int) -> np.ndarray:
    """Swap the first two gate blocks along axis 0: torch r,z,n <-> Keras z,r,h (self-inverse)."""
    return np.concatenate([a[units : 2 * units], a[:units], a[2 * units :]], axis=0)


class TorchStack:
    """What a torch LSTM/GRU holds: its sizes, flags, and state-dict arrays as numpy."""

    def __init__(self, kind: str, arrays: dict[str, np.ndarray], dropout: float = 0.0):
        self.kind, self.arrays, self.dropout = kind, arrays, dropout
        g = GATES[kind]
        if any(KEY.match(k) is None for k in arrays):
            raise ValueError(
                f"from_torch: unexpected state_dict keys "
                f"{sorted(k for k in arrays if not KEY.match(k))}; a torch.nn.{kind.upper()} has "
                "weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (and `_reverse` twins"
                " when bidirectional). Pass the LSTM/GRU module's own state_dict, without the "
                "prefix a parent module adds."
            )
        if any(k.startswith("weight_hr") for k in arrays):
            raise ValueError(
                "from_torch: this LSTM has projections (proj_size > 0, keys weight_hr_l*); "
                "Keras and lstmkit LSTMs have no projection, so it cannot be converted."
            )
        if "weight_ih_l0" not in arrays or "weight_hh_l0" not in arrays:
            raise ValueError(
                f"from_torch: the state_dict has no weight_ih_l0/weight_hh_l0; keys are "
                f"{sorted(arrays)}."
            )
        self.num_layers = 1 + max(int(KEY.match(k).group(2)) for k in arrays)
        self.bidirectional = any(k.endswith("_reverse") for k in arrays)
        self.bias = "bias_ih_l0" in arrays
        self.input_size = int(arrays["weight_ih_l0"].shape[-1])
        self.hidden_size = int(arrays["weight_hh_l0"].shape[-1])
        u = self.hidden_size
        expected = {}
        for k in range(self.num_layers):
            for s in self.suffixes(k):
                in_dim = self.input_size if k == 0 else u * len(self.suffixes(0))
                expected[f"weight_ih_{s}"] = (g * u, in_dim)
                expected[f"weight_hh_{s}"] = (g * u, u)
                if self.bias:
                    expected[f"bias_ih_{s}"] = (g * u,)
                    expected[f"bias_hh_{s}"] = (g * u,)
        if set(arrays) != set(expected):
            raise ValueError(
                f"from_torch: incomplete or inconsistent {kind.upper()} state_dict: missing "
                f"{sorted(set(expected) - set(arrays))}, unexpected "
                f"{sorted(set(arrays) - set(expected))}."
            )
        for key, shape in expected.items():
            if tuple(arrays[key].shape) != shape:
                raise ValueError(
                    f"from_torch: '{key}' has shape {tuple(arrays[key].shape)}, expected {shape} "
                    f"for a {kind.upper()} with {g} gates, hidden size {u} and input size "
                    f"{self.input_size} (is `kind` right?)."
                )

    def suffixes(self, k: int) -> list[str]:
        return [f"l{k}", f"l{k}_reverse"] if self.bidirectional else [f"l{k}"]

    def keras_weights(self, suffix: str) -> list[np.ndarray]:
        """The Keras weight list (kernel, recurrent_kernel[, bias]) of torch layer `suffix`."""
        a, u = self.arrays, self.hidden_size
        w_ih, w_hh = a[f"weight_ih_{suffix}"], a[f"weight_hh_{suffix}"]  # (g*u, in), (g*u, u)
        if self.kind == "gru":
            w_ih, w_hh = swap_gru_blocks(w_ih, u), swap_gru_blocks(w_hh, u)
        out = [w_ih.T, w_hh.T]  # (in, g*u), (u, g*u)
        if self.bias:
            b_ih, b_hh = a[f"bias_ih_{suffix}"], a[f"bias_hh_{suffix}"]
            if self.kind == "lstm":
                out.append(b_ih + b_hh)  # (4u,)
            else:
                out.append(np.stack([swap_gru_blocks(b_ih, u), swap_gru_blocks(b_hh, u)]))
        return out


def read_torch(source: Any, kind: str | None, batch_first: bool | None) -> TorchStack:
    if hasattr(source, "state_dict") and hasattr(source, "parameters"):  # a torch.nn.Module
        torch = import_torch()
        if isinstance(source, torch.nn.LSTM):
            found = "lstm"
        elif isinstance(source, torch.nn.GRU):
            found = "gru"
        else:
            raise TypeError(
                f"from_torch: expected a torch.nn.LSTM or torch.nn.GRU (or a state_dict), got "
                f"{type(source).__name__}."
            )
        if kind is not None and kind.lower() != found:
            raise ValueError(f"from_torch: kind={kind!r}, but the module is a {found.upper()}.")
        if batch_first is not None and bool(batch_first) != source.batch_first:
            raise ValueError(
                f"from_torch: batch_first={batch_first}, but the module has "
                f"batch_first={source.batch_first}."
            )
        arrays = {k: to_numpy(v) for k, v in source.state_dict().items()}
        return TorchStack(found, arrays, float(source.dropout))
    if not hasattr(source, "keys"):
        raise TypeError(
            f"from_torch: expected a torch.nn.LSTM, torch.nn.GRU or a state_dict, got "
            f"{type(source).__name__}."
        )
    if kind is None or str(kind).lower() not in GATES:
        raise ValueError(
            f"from_torch: a state_dict does not say what it is; pass kind='lstm' or kind='gru' "
            f"(got kind={kind!r})."
        )
    return TorchStack(str(kind).lower(), {k: to_numpy(v) for k, v in source.items()})


def torch_arrays(stack: list[list[list[np.ndarray]]], kind: str, units: int) -> dict:
    """The torch state_dict arrays of a stack given as Keras weights: `stack[k]` is layer k's
    directions (forward[, backward]), each `[kernel, recurrent_kernel(, bias)]`. The inverse of
    `TorchStack.keras_weights`, except that an LSTM's whole bias goes to `b_ih` (`b_hh` zeros)."""
    g, values = GATES[kind], {}
    for k, directions in enumerate(stack):
        for w, suffix in zip(directions, ("", "_reverse"), strict=False):
            kernel, recurrent = w[0].T, w[1].T  # (g*u, in), (g*u, u)
            if len(w) > 2:
                b_ih, b_hh = (w[2], np.zeros_like(w[2])) if kind == "lstm" else (w[2][0], w[2][1])
            else:  # use_bias=False: torch's zero biases compute the same
                b_ih = b_hh = np.zeros((g * units,), w[0].dtype)
            arrays = {"weight_ih": kernel, "weight_hh": recurrent, "bias_ih": b_ih, "bias_hh": b_hh}
            for name, a in arrays.items():
                values[f"{name}_l{k}{suffix}"] = swap_gru_blocks(a, units) if kind == "gru" else a
    return values
