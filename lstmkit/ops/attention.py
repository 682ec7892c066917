"""Keras 3's `dot_product_attention` on JAX (`jax.nn.dot_product_attention`, XLA implementation)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.ops.core import convert_to_tensor

Array = jax.Array


def dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    bias: Any = None,
    mask: Any = None,
    scale: float | None = None,
    is_causal: bool = False,
    flash_attention: bool | None = None,
    attn_logits_soft_cap: float | None = None,
) -> Array:
    """`softmax(query . key / sqrt(depth) + bias, masked) . value` per head.

    query (batch, target, heads, depth), key/value (batch, source, kv_heads, depth); `mask`
    (True = attend) and `bias` broadcast to (batch, heads, target, source). Keras's flash and
    soft-cap paths exist only on TPU/GPU kernels, so asking for them here is an error.
    """
    query, key, value = (convert_to_tensor(t) for t in (query, key, value))
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        raise ValueError(
            "dot_product_attention: query, key and value must be 4-D (batch, time, heads, depth), "
            f"got query.shape={query.shape}, key.shape={key.shape}, value.shape={value.shape}."
        )
    if attn_logits_soft_cap is not None:
        raise ValueError("dot_product_attention: `attn_logits_soft_cap` needs JAX on TPU.")
    if flash_attention:
        raise ValueError("dot_product_attention: `flash_attention=True` is not supported here.")
    kind = jnp.promote_types(jnp.promote_types(query.dtype, key.dtype), value.dtype)
    query, key, value = query.astype(kind), key.astype(kind), value.astype(kind)
    bias = None if bias is None else convert_to_tensor(bias, kind)
    mask = None if mask is None else convert_to_tensor(mask)
    return jax.nn.dot_product_attention(
        query, key, value, bias=bias, mask=mask, scale=scale, is_causal=is_causal,
        implementation="xla",
    )  # fmt: skip
