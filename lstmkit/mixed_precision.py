"""Keras 3's dtype policies: `set_global_policy("mixed_bfloat16")`, `Policy`/`DTypePolicy`, and
the `dtype=` argument of every layer taking a policy or its name.

A policy names two dtypes: the variables' (`variable_dtype`) and the computation's
(`compute_dtype`). Under "mixed_bfloat16" (or "mixed_float16") weights are stored, updated and
saved in float32, and each layer computes in bfloat16: its floating inputs and its own weights
are cast on entry (`autocast`), so the gradients flow back to float32 weights. As in Keras:

- losses and metrics compute in float32 (they cast y_pred to float32; Keras's `Loss` computes
  in `floatx()`, float32, whatever the layers' policy);
- a last layer given `dtype="float32"` (Keras's advice: `Activation("softmax", dtype="float32")`)
  gets its inputs cast back to float32;
- layer outputs, and the states an RNN returns with `return_state`, are in the compute dtype.

Where lstmkit differs from Keras: an LSTM's (and ConvLSTM's) cell state. Keras 3 runs the whole
cell in bfloat16, c included. The update `c = f*c + i*g` then rounds to 8 significant bits at
every step: with a forget gate near 1 (f itself is 1 or 0.996 in bfloat16) an increment below
half a unit in c's last place is lost, so over a long sequence c stalls or decays and the
memory the LSTM exists for is gone (tests/test_mixed_precision_lstm.py: 500 steps, a bfloat16 c
ends off by most of its magnitude). lstmkit carries c in float32: the matrix products (most
of the time) run in bfloat16, the step's elementwise gate arithmetic and c in float32, and h
goes back to bfloat16 for the next product and the output. The states: `return_state` gives c
in the compute dtype, as Keras does; a stateful layer stores its float32 c (`layer.states`), so
the carry across batches keeps its precision. GRU and SimpleRNN have no cell state and run as Keras
does. Under any other policy ("float32", "bfloat16") nothing is cast and the numbers are
Keras's; under mixed_bfloat16 an LSTM's agree with Keras's to bfloat16's precision over short
sequences and are closer to exact arithmetic over long ones.

The cuDNN path is float32 only, so a mixed-precision LSTM takes the fused scan.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

_HALF = ("bfloat16", "float16")
_MIXED = {"mixed_bfloat16": ("bfloat16", "float32"), "mixed_float16": ("float16", "float32")}


class DTypePolicy:
    """A layer's compute and variable dtypes, by name: "float32", "bfloat16", any float dtype
    (both dtypes that one), "mixed_bfloat16" or "mixed_float16" (computations in the half
    type, variables in float32). Without a name, the global policy's."""

    def __init__(self, name: str | None = None):
        if name is None:
            name = global_policy().name
        if not isinstance(name, str):
            raise ValueError(
                "DTypePolicy: `name` must be a string such as 'mixed_bfloat16' or 'float32', "
                f"got {name!r} (of type {type(name).__name__})."
            )
        if name in _MIXED:
            self._compute_dtype, self._variable_dtype = _MIXED[name]
        else:
            try:
                dtype = str(jnp.dtype(name))
            except TypeError:
                dtype = None
            if dtype is None:
                raise ValueError(
                    f"DTypePolicy: cannot make a policy of {name!r}. Valid policies are "
                    "'mixed_bfloat16', 'mixed_float16' and dtypes such as 'float32'."
                )
            self._compute_dtype = self._variable_dtype = dtype
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype layers compute in (their inputs and, cast, their weights)."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype layers store their weights in."""
        return self._variable_dtype

    @property
    def is_mixed(self) -> bool:
        return self._compute_dtype != self._variable_dtype

    def get_config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras's legacy name (keras.mixed_precision.Policy)

_global = [DTypePolicy("float32")]


def set_global_policy(policy: str | DTypePolicy) -> None:
    """The policy of every layer made afterwards without `dtype=` (as
    `keras.mixed_precision.set_global_policy` / `keras.config.set_dtype_policy`)."""
    if not isinstance(policy, (str, DTypePolicy)):
        raise ValueError(
            "set_global_policy: expected a policy name such as 'mixed_bfloat16' or a "
            f"DTypePolicy, got {policy!r} (of type {type(policy).__name__})."
        )
    _global[0] = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)


def global_policy() -> DTypePolicy:
    """The global policy ("float32" unless set)."""
    return _global[0]


set_dtype_policy, dtype_policy = set_global_policy, global_policy  # keras.config's names


def get(dtype: Any) -> DTypePolicy:
    """A layer's `dtype=` argument as a policy: None (the global policy), a policy, its name, a
    dtype, or a Keras config dict ({"class_name": "DTypePolicy", "config": {"name": ...}})."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        return DTypePolicy(dtype.get("config", {}).get("name", "float32"))
    if isinstance(dtype, str):
        return DTypePolicy(dtype)
    return DTypePolicy(str(jnp.dtype(dtype)))


def _cast_floats(tree: Any, dtype: str, only_half: bool) -> Any:
    def cast(a: Any) -> Any:
        if not hasattr(a, "dtype") or not jnp.issubdtype(a.dtype, jnp.floating):
            return a
        full = str(a.dtype) not in _HALF and dtype not in _HALF  # float64 data, float32 layer
        if str(a.dtype) == dtype or (only_half and full):
            return a
        return jnp.asarray(a, dtype)

    return jax.tree_util.tree_map(cast, tree)


def autocast(policy: DTypePolicy, params: Any, inputs: Any, deep: bool = False) -> tuple[Any, Any]:
    """What a layer computes on: its floating inputs in the compute dtype (where either dtype is
    a half type: float64 data into a float32 layer stays as it was), and under a mixed policy
    its own weights (the non-dict entries of `params`; sub-layers cast their own), or with
    `deep` all of them (an RNN's cell, stacked cells included, which it runs itself)."""
    inputs = _cast_floats(inputs, policy.compute_dtype, only_half=True)
    if policy.is_mixed and deep:
        params = _cast_floats(params, policy.compute_dtype, False)
    elif policy.is_mixed and isinstance(params, dict):
        params = {
            k: v if isinstance(v, dict) else _cast_floats(v, policy.compute_dtype, False)
            for k, v in params.items()
        }
    return params, inputs
