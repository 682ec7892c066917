"""MultiHeadAttention as Keras 3 builds and runs it.

query (B, T, dim), value (B, S, dim), key (B, S, dim) are projected by EinsumDense sub-layers
(`query`, `key`, `value`: kernels (dim, heads, key_dim/value_dim), biases (heads, key_dim)), the
heads attend, and `attention_output` (kernel (heads, value_dim, out)) projects back. Like Keras,
the common case (no dropout, no scores asked for, 3-D inputs) runs `dot_product_attention`, and
the rest run the einsum path with a masked softmax; the two differ only on fully masked rows
(uniform weights vs zeros), exactly as in Keras.

Masks as Keras: the query's mask (from the graph) and the value's and key's (from the graph or
`value_mask=`/`key_mask=`) combine with `attention_mask` and the causal mask; an explicit
`query_mask=` is ignored, as Keras 3 ignores it.
"""

from __future__ import annotations

import math
import string
from typing import Any

import jax.numpy as jnp

from lstmkit import constraints, initializers, regularizers
from lstmkit.layers.attention import Softmax
from lstmkit.layers.base import Layer
from lstmkit.layers.calling import CallArgs
from lstmkit.layers.cells import check_rate
from lstmkit.layers.core import Dropout
from lstmkit.layers.einsum_dense import EinsumDense, _ser
from lstmkit.ops.attention import dot_product_attention

_LETTERS = string.ascii_lowercase


def projection_equation(free: int, bound: int, out: int) -> tuple[str, str, int]:
    """Keras's projection einsum: (free..., bound...) x (bound..., out...) -> (free..., out...)."""
    f, b, o = _LETTERS[:free], _LETTERS[free : free + bound], _LETTERS[free + bound :][:out]
    return f"{f}{b},{b}{o}->{f}{o}", o, free + out


def attention_equations(rank: int, attn_axes: tuple[int, ...]) -> tuple[str, str, int]:
    """(dot-product equation, combine equation, scores rank) for projected tensors of `rank`
    (batch, <attention axes>, heads, channels); every non-attention axis but the last is a batch
    axis of the scores."""
    target = _LETTERS[:rank]
    batch = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch or i == rank - 1:
            source += target[i]
        else:
            source += _LETTERS[offset]
            offset += 1
    product = "".join([target[i] for i in batch] + [target[i] for i in attn_axes]
                      + [source[i] for i in attn_axes])  # fmt: skip
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def _positive(layer: str, arg: str, value: Any, optional: bool = False) -> Any:
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Layer '{layer}': `{arg}` must be a positive integer, got {value!r}.")
    return value


class MultiHeadAttention(Layer):
    """`layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    use_causal_mask=False)` with Keras 3's arguments, weights and numbers."""

    supports_masking = True
    positional_inputs = True
    output_shape_kwargs = ("return_attention_scores",)

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, sliding_window: int | None = None,
                 flash_attention: bool | None = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 use_gate: bool = False, seed: int | None = None, **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        self.num_heads = _positive(self.name, "num_heads", num_heads)
        self.key_dim = _positive(self.name, "key_dim", key_dim)
        self.value_dim = _positive(self.name, "value_dim", value_dim, optional=True) or key_dim
        self.dropout = check_rate(self.name, "dropout", dropout)
        self.use_bias = bool(use_bias)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, int) else output_shape
            output_shape = tuple(output_shape)
        self.partial_output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"Layer '{self.name}': `attention_axes` must be an int, list or "
                             f"tuple, got {attention_axes!r}.")  # fmt: skip
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.sliding_window = _positive(self.name, "sliding_window", sliding_window, True)
        if flash_attention:
            raise ValueError(f"Layer '{self.name}': flash_attention=True is not supported by "
                             "lstmkit (no TPU/GPU flash kernel here).")  # fmt: skip
        if activity_regularizer is not None:
            raise ValueError(f"Layer '{self.name}': activity_regularizer is not supported on "
                             "MultiHeadAttention by lstmkit.")  # fmt: skip
        initializers.get(kernel_initializer), initializers.get(bias_initializer)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint
        self.use_gate = bool(use_gate)
        self.seed = seed

    # ----- building ----------------------------------------------------------------------------
    def _dense(self, key: str, name: str, equation: str, shape: list, bias_axes: str,
               input_shape: tuple, **extra: Any) -> EinsumDense:  # fmt: skip
        layer = EinsumDense(
            equation, output_shape=shape, bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=_ser(initializers, self.kernel_initializer),
            bias_initializer=_ser(initializers, self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
            dtype=self.dtype, name=name, **extra,
        )  # fmt: skip
        layer.maybe_build(tuple(input_shape))
        return self.track(key, layer)

    def build(self, input_shape: Any) -> None:
        query_shape, value_shape, key_shape = self._shapes(input_shape)
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(
                f"Layer '{self.name}': value and key must agree on every axis but the last; "
                f"got value shape {value_shape} and key shape {key_shape}."
            )
        heads_shape = lambda rank, dim: [None] * (rank - 3) + [self.num_heads, dim]  # noqa: E731
        eq, bias, rank = projection_equation(len(query_shape) - 1, 1, 2)
        self.query_dense = self._dense("query_dense", "query", eq, heads_shape(rank, self.key_dim),
                                       bias, query_shape)  # fmt: skip
        eq, bias, rank = projection_equation(len(key_shape) - 1, 1, 2)
        self.key_dense = self._dense("key_dense", "key", eq, heads_shape(rank, self.key_dim), bias,
                                     key_shape)  # fmt: skip
        if self.use_gate:
            eq, bias, rank = projection_equation(len(query_shape) - 1, 1, 2)
            self.gate_dense = self._dense("_gate_dense", "gate", eq,
                                          heads_shape(rank, self.value_dim), bias, query_shape,
                                          activation="sigmoid")  # fmt: skip
        eq, bias, rank = projection_equation(len(value_shape) - 1, 1, 2)
        self.value_dense = self._dense("value_dense", "value", eq,
                                       heads_shape(rank, self.value_dim), bias,
                                       value_shape)  # fmt: skip
        if self.attention_axes is None:  # every axis but batch, heads and channels
            self.attention_axes = tuple(range(1, rank - 2))
        else:
            self.attention_axes = tuple(a if a >= 0 else rank - 1 + a for a in self.attention_axes)
        self._dot_eq, self._combine_eq, scores_rank = attention_equations(rank, self.attention_axes)
        norm_axes = tuple(range(scores_rank - len(self.attention_axes), scores_rank))
        self.track("_softmax", Softmax(axis=norm_axes, dtype=self.dtype))
        self.track("_dropout_layer", Dropout(rate=self.dropout, dtype=self.dtype, seed=self.seed))
        out_shape = self.partial_output_shape or (query_shape[-1],)
        eq, bias, rank = projection_equation(len(query_shape) - 1, 2, len(out_shape))
        projected = self.query_dense.compute_output_shape(tuple(query_shape))
        self.output_dense = self._dense("output_dense", "attention_output", eq,
                                        [None] * (rank - 1 - len(out_shape)) + list(out_shape),
                                        bias, (*projected[:-1], self.value_dim))  # fmt: skip

    def _shapes(self, input_shape: Any) -> tuple:
        if not isinstance(input_shape, (list, tuple)) or not 2 <= len(input_shape) <= 3 or (
                not all(isinstance(s, tuple) for s in input_shape)):  # fmt: skip
            raise ValueError(
                f"Layer '{self.name}' (MultiHeadAttention) is called as layer(query, value) or "
                f"layer(query, value, key); got input shapes {input_shape}."
            )
        query, value = tuple(input_shape[0]), tuple(input_shape[1])
        key = tuple(input_shape[2]) if len(input_shape) > 2 else value
        return query, value, key

    def check_input(self, shape: Any) -> None:
        self._shapes(shape)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Keras's calling forms: (query, value[, key]), each by position or by keyword."""
        names = [n for n in ("query", "value", "key")[len(args) :] if kwargs.get(n) is not None]
        inputs = [*args, *(kwargs.pop(n) for n in names)]
        kwargs.pop("key", None)
        if len(inputs) < 2 or len(args) > 3:
            raise ValueError(
                f"Layer '{self.name}': call it as layer(query, value) or layer(query, value, "
                f"key) (by position or keyword); got {len(args)} positional input(s) and "
                f"keywords {names}."
            )
        return super().__call__(CallArgs(inputs, tuple(names)), **kwargs)

    # ----- the computation ---------------------------------------------------------------------
    def attention_mask(self, t: int, s: int, query_mask: Any, value_mask: Any, key_mask: Any,
                       attention_mask: Any, use_causal_mask: bool) -> Any:  # fmt: skip
        """Keras's `_compute_attention_mask`: every mask given, ANDed, (B|1, T, S); or None."""
        auto = None
        parts = [None if query_mask is None else query_mask.astype(bool)[:, :, None],
                 None if value_mask is None else value_mask.astype(bool)[:, None, :],
                 None if key_mask is None else key_mask.astype(bool)[:, None, :]]  # fmt: skip
        rows, cols = jnp.arange(t)[None, :, None], jnp.arange(s)[None, None, :]
        if use_causal_mask:
            parts.append(rows >= cols)  # (1, T, S)
        if self.sliding_window is not None:
            parts.append(jnp.abs(rows - cols) < self.sliding_window)
        for part in parts:
            if part is not None:
                auto = part if auto is None else auto & part
        if attention_mask is not None:
            attention_mask = jnp.asarray(attention_mask).astype(bool)
            return attention_mask if auto is None else attention_mask & auto
        return auto

    def pure_call(self, params, inputs, *, training=False, mask=None, key=None,
                  attention_mask=None, return_attention_scores=False, use_causal_mask=False,
                  query_mask=None, value_mask=None, key_mask=None, **kwargs):  # fmt: skip
        del query_mask  # Keras 3 reads the query's mask from the graph only
        query, value = inputs[0], inputs[1]
        keys = inputs[2] if len(inputs) > 2 else value
        graph = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        graph += [None] * (3 - len(graph))
        value_mask = graph[1] if value_mask is None else jnp.asarray(value_mask)
        key_mask = (graph[2] if len(inputs) > 2 else None) if key_mask is None else key_mask
        mask_ts = self.attention_mask(query.shape[1], value.shape[1], graph[0], value_mask,
                                      None if key_mask is None else jnp.asarray(key_mask),
                                      attention_mask, use_causal_mask)  # fmt: skip
        q = self.query_dense.pure_call(params["query_dense"], query)  # (B, T, N, key_dim)
        k = self.key_dense.pure_call(params["key_dense"], keys)  # (B, S, N, key_dim)
        v = self.value_dense.pure_call(params["value_dense"], value)  # (B, S, N, value_dim)
        out, scores = self._attend(q, k, v, mask_ts, training, key, return_attention_scores)
        if self.use_gate:
            out = out * self.gate_dense.pure_call(params["_gate_dense"], query)
        out = self.output_dense.pure_call(params["output_dense"], out)  # (B, T, *output_shape)
        return [out, scores] if return_attention_scores else out

    def _attend(self, q, k, v, mask, training, key, want_scores) -> tuple:
        scale = 1.0 / math.sqrt(float(self.key_dim))
        # Keras's choice of path (value_dim != key_dim fails in Keras's fast path; here it
        # takes the einsum path)
        fast = not (self.dropout > 0.0 or want_scores or q.ndim != 4
                    or v.shape[-1] != q.shape[-1])  # fmt: skip
        if mask is not None:  # (B, T, S) -> (B, 1, T, S): the same mask for every head
            rank = 4 if fast else q.ndim + len(self.attention_axes) - 1  # the scores' rank
            while mask.ndim < rank:
                mask = jnp.expand_dims(mask, -len(self.attention_axes) * 2 - 1)
        if fast:
            return dot_product_attention(q, k, v, mask=mask, scale=scale), None
        q = q * jnp.asarray(scale, q.dtype)
        scores = jnp.einsum(self._dot_eq, k, q)  # (B, N, T, S)
        scores = self._sublayers["_softmax"].pure_call({}, scores, mask=mask)
        used = self._sublayers["_dropout_layer"].pure_call(
            {}, scores, training=training, key=key if training else None
        )
        return jnp.einsum(self._combine_eq, used, v), scores  # (B, T, N, value_dim)

    # ----- shapes, masks, config ---------------------------------------------------------------
    def compute_output_shape(self, input_shape: Any, return_attention_scores: bool = False,
                             **kwargs: Any) -> Any:  # fmt: skip
        query, value, _ = self._shapes(input_shape)
        out = query[:-1] + self.partial_output_shape if self.partial_output_shape else query
        if return_attention_scores:  # (B, N, T, S) for the default attention axis
            return [out, (query[0], self.num_heads, *query[1:-1], *value[1:-1])]
        return out

    def compute_mask(self, inputs: Any, mask: Any) -> Any:
        if isinstance(mask, (list, tuple)):
            return mask[0] if mask else None
        return mask

    def keras_build_config(self) -> dict[str, Any]:
        """Keras records build(query_shape, value_shape[, key_shape]) by argument name."""
        names = ("query_shape", "value_shape", "key_shape")
        return {"shapes_dict": {n: list(s) for n, s in zip(names, self._build_shape)}}

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name, "trainable": self.trainable, "dtype": self.dtype,
            "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias, "use_gate": self.use_gate,
            "output_shape": self.partial_output_shape, "attention_axes": self.attention_axes,
            "sliding_window": self.sliding_window,
            "kernel_initializer": _ser(initializers, self.kernel_initializer),
            "bias_initializer": _ser(initializers, self.bias_initializer),
            "kernel_regularizer": _ser(regularizers, self.kernel_regularizer),
            "bias_regularizer": _ser(regularizers, self.bias_regularizer),
            "activity_regularizer": None,
            "kernel_constraint": _ser(constraints, self.kernel_constraint),
            "bias_constraint": _ser(constraints, self.bias_constraint),
            "seed": self.seed,
        }  # fmt: skip
