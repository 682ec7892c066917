"""Attention (Luong, dot or concat scores) and AdditiveAttention (Bahdanau), as Keras 3.

Both are called on a list `[query, value]` or `[query, value, key]` (key defaults to value) and
take a list of masks `[query_mask, value_mask]`: value positions where the mask is False get no
weight, query positions where it is False give zero outputs, and the output's mask is the
query's. The scores' math follows Keras step by step (masked scores lowered by 1e9, not set to
-inf), so a fully masked row gives what Keras gives.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from lstmkit.layers.base import Layer
from lstmkit.layers.cells import check_rate

# Keras lowers masked scores by this much (65504 for float16) rather than setting -inf.
_MASKED_SCORE_OFFSET = 1.0e9


def split_inputs(layer: Layer, inputs: Any, mask: Any = None) -> tuple:
    """(query, value, key, query_mask, value_mask) from Keras's list conventions."""
    cls = type(layer).__name__
    if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
        several = isinstance(inputs, (list, tuple))
        got = f"length {len(inputs)}" if several else type(inputs).__name__
        raise ValueError(
            f"Layer '{layer.name}' ({cls}) must be called on a list [query, value] or "
            f"[query, value, key]; got {got}."
        )
    if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
        raise ValueError(
            f"Layer '{layer.name}' ({cls}): `mask` must be a list [query_mask, value_mask], "
            f"got {mask!r:.80}."
        )
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    q_mask = mask[0] if mask else None
    v_mask = mask[1] if mask else None
    return query, value, key, q_mask, v_mask


def causal_mask(t_q: int, t_v: int) -> jax.Array:
    """(1, Tq, Tv) booleans: query position i sees value positions j <= i."""
    return (jnp.arange(t_q)[:, None] >= jnp.arange(t_v)[None, :])[None]


class Attention(Layer):
    """Dot-product (Luong) attention: softmax(query . key^T [* scale]) . value.

    `score_mode="concat"`: scores are `concat_score_weight * sum(tanh([scale *](q + k)))`.
    """

    supports_masking = True
    masks_per_input = True  # a functional model hands it [query_mask, value_mask]
    output_shape_kwargs = ("return_attention_scores",)

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"Layer '{self.name}': `score_mode` must be one of 'dot', 'concat'; "
                f"got {score_mode!r}."
            )
        self.score_mode = score_mode
        self.dropout = check_rate(self.name, "dropout", dropout)
        self.seed = seed

    def build(self, input_shape: Any) -> None:
        split_inputs(self, input_shape)
        if self.use_scale:
            self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.add_weight(name="concat_score_weight", shape=(), initializer="ones")

    def check_input(self, shape: Any) -> None:
        split_inputs(self, shape)

    def scores(self, params: dict, query: jax.Array, key: jax.Array) -> jax.Array:
        """(batch, Tq, dim), (batch, Tv, dim) -> (batch, Tq, Tv)."""
        scale = params.get("scale")
        if self.score_mode == "dot":
            s = query @ jnp.swapaxes(key, -2, -1)  # (batch, Tq, Tv)
            return s if scale is None else s * scale
        pairs = query[..., :, None, :] + key[..., None, :, :]  # (batch, Tq, Tv, dim)
        if scale is not None:
            pairs = scale * pairs
        return params["concat_score_weight"] * jnp.sum(jnp.tanh(pairs), axis=-1)

    def pure_call(self, params, inputs, *, training=False, mask=None, key=None,
                  return_attention_scores=False, use_causal_mask=False, **kwargs):  # fmt: skip
        query, value, keys, q_mask, v_mask = split_inputs(self, inputs, mask)
        scores = self.scores(params, query, keys)  # (batch, Tq, Tv)
        score_mask = None if v_mask is None else v_mask.astype(bool)[..., None, :]  # (b, 1, Tv)
        if use_causal_mask:
            causal = causal_mask(scores.shape[-2], scores.shape[-1])  # (1, Tq, Tv)
            score_mask = causal if score_mask is None else score_mask & causal
        if score_mask is not None:
            scores = jnp.where(score_mask, scores, scores - _MASKED_SCORE_OFFSET)
        weights = jax.nn.softmax(scores, axis=-1)  # (batch, Tq, Tv)
        used = weights
        if training and self.dropout > 0.0 and key is not None:
            keep = jax.random.bernoulli(key, 1.0 - self.dropout, weights.shape)
            used = jnp.where(keep, weights / (1.0 - self.dropout), 0.0)
        out = used @ value  # (batch, Tq, dim)
        if q_mask is not None:
            out = jnp.where(q_mask.astype(bool)[..., None], out, 0.0)
        if return_attention_scores:
            return [out, weights]
        return out

    def compute_output_shape(self, input_shape: Any, return_attention_scores: bool = False,
                             **kwargs: Any) -> Any:  # fmt: skip
        q_shape, v_shape = tuple(input_shape[0]), tuple(input_shape[1])
        k_shape = tuple(input_shape[2]) if len(input_shape) > 2 else v_shape
        out = (*q_shape[:-1], v_shape[-1])
        if return_attention_scores:
            return [out, (*q_shape[:-1], k_shape[-2])]
        return out

    def keras_build_config(self) -> dict[str, Any]:
        """Keras records the list of input shapes it was built for."""
        return {"input_shape": [list(s) for s in self._build_shape]}

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        if mask is None or not isinstance(mask, (list, tuple)) or mask[0] is None:
            return None
        return mask[0]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}  # fmt: skip


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores = sum(scale * tanh(query + key)) over features;
    `scale` is a (dim,) vector (glorot_uniform) when `use_scale` (the default)."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        split_inputs(self, input_shape)
        if self.use_scale:
            dim = input_shape[0][-1]
            self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")

    def scores(self, params: dict, query: jax.Array, key: jax.Array) -> jax.Array:
        pairs = jnp.tanh(query[..., :, None, :] + key[..., None, :, :])  # (batch, Tq, Tv, dim)
        scale = params.get("scale")
        return jnp.sum(pairs if scale is None else scale * pairs, axis=-1)  # (batch, Tq, Tv)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["score_mode"]
        return config


class Softmax(Layer):
    """softmax over `axis` (an int or several axes); masked entries (mask False) get -1e9
    before and 0 after, so a fully masked row is zeros, as in Keras."""

    supports_masking = True

    def __init__(self, axis: int | tuple = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def pure_call(self, params, inputs, *, mask=None, **kwargs):
        x = inputs
        if mask is not None:
            x = jnp.where(mask.astype(bool), x, -1e9)
        if isinstance(self.axis, (list, tuple)) and len(self.axis) > 1:
            axes = tuple(self.axis)
            out = jnp.exp(x - jax.nn.logsumexp(x, axis=axes, keepdims=True))
        else:
            axis = self.axis[0] if isinstance(self.axis, (list, tuple)) else self.axis
            out = jax.nn.softmax(x, axis=axis)
        return out if mask is None else jnp.where(mask.astype(bool), out, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype,
                "axis": self.axis}  # fmt: skip
