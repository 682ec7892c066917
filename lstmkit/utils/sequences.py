"""`pad_sequences`: ragged lists of sequences to one rectangular numpy array, as Keras 3."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pad_sequences(
    sequences: Sequence[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (or cut) each sequence to `maxlen` steps: an array (samples, maxlen, *step_shape).

    `maxlen` defaults to the longest sequence. `padding` / `truncating` say whether steps are
    added / removed at the start ("pre", the default) or the end ("post"). Every step must have
    the shape of the first non-empty sequence's steps. For variable-length strings use
    `dtype=object`.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            "pad_sequences: `sequences` must be a list of sequences, "
            f"got {type(sequences).__name__}."
        )
    lengths, step_shape, found_step_shape = [], (), False
    for i, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError as error:
            raise ValueError(
                "pad_sequences: `sequences` must be a list of iterables; "
                f"the item at position {i} is not: {seq!r}."
            ) from error
        if not found_step_shape and len(seq):  # the first non-empty sequence sets the step shape
            step_shape, found_step_shape = np.asarray(seq).shape[1:], True
    if maxlen is None:
        if not lengths:
            raise ValueError(
                "pad_sequences: `sequences` is empty; give `maxlen` or some sequences."
            )
        maxlen = max(lengths)
    text_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text_dtype:
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} cannot hold the string `value` {value!r}; "
            "use `dtype=object` for variable-length strings."
        )
    padded = np.full((len(sequences), maxlen) + step_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue  # an empty sequence stays all padding
        if truncating == "pre":
            kept = seq[-maxlen:]
        elif truncating == "post":
            kept = seq[:maxlen]
        else:
            raise ValueError(
                f'pad_sequences: truncating must be "pre" or "post", got {truncating!r}.'
            )
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != step_shape:
            raise ValueError(
                f"pad_sequences: the steps of the sequence at position {i} have shape "
                f"{kept.shape[1:]}, but the first non-empty sequence's have {step_shape}."
            )
        if padding == "post":
            padded[i, : len(kept)] = kept
        elif padding == "pre":
            padded[i, -len(kept) :] = kept
        else:
            raise ValueError(f'pad_sequences: padding must be "pre" or "post", got {padding!r}.')
    return padded
