"""StringLookup and IntegerLookup: Keras 3's vocabulary lookup layers, in numpy on the host.

Keras builds these on TensorFlow hash tables and cannot jit them on JAX either; here they are
plain numpy, run eagerly on strings or integers before the jitted model (typical use:
`ids = lookup(tokens)` then `model.fit(ids, ...)`). Calling one on a symbolic `Input` inside a
model raises an error that says so.

The vocabulary is `[mask_token] + [oov_token] * num_oov_indices + tokens` (the mask only with
`output_mode="int"`); `adapt` orders tokens by count, ties by the token, both descending
(Keras's `np.lexsort((tokens, counts))[::-1]`). In a `.keras` file an adapted vocabulary lives in
the archive's assets as `vocabulary.txt`, one token a line, special tokens included.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from lstmkit.layers.base import Layer
from lstmkit.utils.dataset_utils import adapt_batches

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")
VOCABULARY_FILE = "vocabulary.txt"


def host_only_error(layer: Layer) -> TypeError:
    return TypeError(
        f"Layer '{layer.name}' ({type(layer).__name__}) is a preprocessing layer that runs in "
        "numpy outside the jitted model (Keras on JAX cannot jit it either). Call it on your "
        "data first, e.g. `ids = layer(texts)`, then feed `ids` to a model that starts at the "
        "Embedding (Input(shape=(length,), dtype='int32'))."
    )


def as_numpy(data: Any, vocabulary_dtype: str) -> np.ndarray:
    """Strings (str, bytes, lists, arrays) as an object array of str; integers as int64."""
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    arr = np.asarray(data, dtype=object if vocabulary_dtype == "string" else None)
    if vocabulary_dtype != "string":
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"IntegerLookup: expected integer inputs, got dtype {arr.dtype}.")
        return arr.astype(np.int64)
    flat = [v.decode("utf-8") if isinstance(v, bytes) else v for v in arr.reshape(-1)]
    bad = next((v for v in flat if not isinstance(v, str)), None)
    if bad is not None:
        raise TypeError(f"StringLookup: expected strings, got {type(bad).__name__} {bad!r}.")
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(arr.shape)


class IndexLookup(Layer):
    """The shared machinery of StringLookup and IntegerLookup (Keras's IndexLookup)."""

    def __init__(
        self,
        max_tokens: int | None,
        num_oov_indices: int,
        mask_token: Any,
        oov_token: Any,
        vocabulary_dtype: str,
        vocabulary: Any = None,
        idf_weights: Any = None,
        invert: bool = False,
        output_mode: str = "int",
        sparse: bool = False,
        pad_to_max_tokens: bool = False,
        oov_method: str = "floormod",
        name: str | None = None,
        salt: Any = None,
        **kwargs: Any,
    ):
        cls = type(self).__name__
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(
                f"{cls}: if set, `max_tokens` must be greater than 1. "
                f"Received: max_tokens={max_tokens}"
            )
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{cls}: pad_to_max_tokens=True needs `max_tokens` to be set.")
        if num_oov_indices < 0:
            raise ValueError(f"{cls}: `num_oov_indices` must be >= 0, got {num_oov_indices}.")
        output_mode = {"binary": "multi_hot"}.get(output_mode, output_mode)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"{cls}: output_mode={output_mode!r} is not supported by lstmkit; supported: "
                f"{list(OUTPUT_MODES)} ('tf_idf' is not implemented)."
            )
        if idf_weights is not None:
            raise ValueError(
                f"{cls}: `idf_weights` is only for output_mode='tf_idf' (not implemented)."
            )
        if sparse:
            raise ValueError(
                f"{cls}: `sparse=True` needs the TensorFlow backend in Keras; not supported."
            )
        if invert and output_mode != "int":
            raise ValueError(
                f"{cls}: `output_mode` must be 'int' when `invert` is true. "
                f"Received: {output_mode!r}"
            )
        if oov_method != "floormod" or salt is not None:
            raise ValueError(
                f"{cls}: only oov_method='floormod' (no salt) is supported; got {oov_method!r}."
            )
        if num_oov_indices > 1 and vocabulary_dtype == "string":
            raise ValueError(
                f"{cls}: num_oov_indices={num_oov_indices} hashes strings with FarmHash64 in "
                "Keras, which lstmkit does not reproduce; use num_oov_indices=0 or 1."
            )
        self._frozen_vocab_size = kwargs.pop("vocabulary_size", None)
        self._has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self.invert, self.max_tokens, self.num_oov_indices = (
            bool(invert),
            max_tokens,
            num_oov_indices,
        )
        self.mask_token, self.oov_token, self.output_mode = mask_token, oov_token, output_mode
        self.sparse, self.pad_to_max_tokens, self.oov_method = sparse, pad_to_max_tokens, oov_method
        self.vocabulary_dtype, self.salt = vocabulary_dtype, salt
        # A vocabulary given as a list goes into the config; one from a file or adapt into assets.
        self.input_vocabulary = None if isinstance(vocabulary, str) else vocabulary
        self._tokens: list = []
        self._index: dict = {}
        self._counts: collections.Counter = collections.Counter()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ----- the vocabulary ----------------------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """Tokens plus the mask and OOV indices."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        special = [self.mask_token] * self._oov_start_index() + [
            self.oov_token
        ] * self.num_oov_indices
        return (special if include_special_tokens else []) + list(self._tokens)

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the tokens directly (a list/array, or a text file with one token a line)."""
        cls = type(self).__name__
        if idf_weights is not None:
            raise ValueError(
                f"{cls}: `idf_weights` is only for output_mode='tf_idf' (not implemented)."
            )
        if isinstance(vocabulary, (str, os.PathLike)):
            vocabulary = self._read_vocabulary_file(os.fspath(vocabulary))
        vocab = list(as_numpy(list(vocabulary), self.vocabulary_dtype).reshape(-1))
        if not vocab:
            raise ValueError(
                f"{cls}: cannot set an empty vocabulary. Received: vocabulary={vocabulary}"
            )
        start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [
            self.oov_token
        ] * self.num_oov_indices
        tokens = vocab[start:] if vocab[:start] == special else vocab
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(
                f"{cls}: the vocabulary has repeated terms {repeated}; please uniquify it."
            )
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{cls}: found the mask token {self.mask_token!r} inside `vocabulary`; include "
                f"special tokens only at the start, in this order: {special}, or not at all."
            )
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(
                f"{cls}: found the OOV token {self.oov_token!r} inside `vocabulary`; include "
                f"special tokens only at the start, in this order: {special}, or not at all."
            )
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{cls}: attempted to set a vocabulary larger than the maximum vocab size. "
                f"Received vocabulary size is {start + len(tokens)}; "
                f"`max_tokens` is {self.max_tokens}."
            )
        self._set_tokens(tokens)

    def _set_tokens(self, tokens: list) -> None:
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()

    def _read_vocabulary_file(self, path: str) -> list:
        if not os.path.exists(path):
            raise ValueError(f"{type(self).__name__}: vocabulary file {path} does not exist.")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        return lines if self.vocabulary_dtype == "string" else [int(v) for v in lines]

    # ----- adapt -------------------------------------------------------------------------------
    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Build the vocabulary from an array or list (one batch), or an iterable of batches."""
        self.reset_state()
        for batch in adapt_batches(data, steps):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        if self._has_input_vocabulary:
            raise ValueError(
                f"Cannot adapt layer '{self.name}' after setting a static vocabulary via "
                "`vocabulary` argument or `set_vocabulary()` method."
            )
        self._counts.update(self._flat_tokens(data))

    def _flat_tokens(self, data: Any) -> Iterable:
        return as_numpy(data, self.vocabulary_dtype).reshape(-1).tolist()

    def finalize_state(self) -> None:
        if self._has_input_vocabulary or not self._counts:
            return
        counts = {
            t: c for t, c in self._counts.items() if t not in (self.mask_token, self.oov_token)
        }
        # Keras: np.lexsort((tokens, counts))[::-1]: most frequent first, ties by token, descending.
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            tokens = tokens[: self.max_tokens - self._token_start_index()]
        self._set_tokens(tokens)
        self.reset_state()

    def reset_state(self) -> None:
        self._counts = collections.Counter()

    # ----- calling -----------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(inputs, "node") or type(inputs).__name__ == "KerasTensor":
            raise host_only_error(self)
        return self.lookup(inputs)

    def lookup(self, inputs: Any) -> np.ndarray:
        """Tokens to indices (or back, with `invert=True`), then the output mode's encoding."""
        if self.invert:
            return self._invert(np.asarray(inputs))
        keys = as_numpy(inputs, self.vocabulary_dtype)
        ids = np.array([self._id_of(k) for k in keys.reshape(-1).tolist()], np.int64)
        ids = ids.reshape(keys.shape)
        if self.output_mode == "int":
            return ids
        return self._encode(ids)

    def _id_of(self, key: Any) -> int:
        if self.mask_token is not None and key == self.mask_token:
            return 0 if self.output_mode == "int" else -1  # -1: dropped from the counts
        found = self._index.get(key)
        if found is not None:
            return found
        if self.num_oov_indices == 0:
            raise ValueError(
                f"Layer '{self.name}': when `num_oov_indices=0` all inputs should be in the "
                f"vocabulary, found OOV value {key!r}; consider setting `num_oov_indices=1`."
            )
        return self._oov_start_index() + (
            int(key) % self.num_oov_indices if self.num_oov_indices > 1 else 0
        )

    def _invert(self, ids: np.ndarray) -> np.ndarray:
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(
                f"Layer '{self.name}' (invert=True): expected integer ids, got {ids.dtype}."
            )
        vocab = self.get_vocabulary()
        out = [
            vocab[i] if 0 <= i < len(vocab) else self.oov_token for i in ids.reshape(-1).tolist()
        ]
        if self.mask_token is not None and self._oov_start_index():
            out = [self.mask_token if i == 0 else t for i, t in zip(ids.reshape(-1).tolist(), out)]
        result = np.empty(len(out), dtype=object if self.vocabulary_dtype == "string" else np.int64)
        result[:] = out
        return result.reshape(ids.shape)

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        """one_hot / multi_hot / count over the last axis, as Keras's bincount path (float32)."""
        depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
        if ids.ndim == 0:
            ids = ids[None]
        if self.output_mode == "one_hot" and ids.shape[-1] != 1:
            ids = ids[..., None]
        if ids.ndim > 2:
            raise ValueError(
                f"Layer '{self.name}': with output_mode={self.output_mode!r} the inputs may have "
                f"rank at most 2; got shape {ids.shape}."
            )
        rows = ids.reshape(-1, ids.shape[-1]) if ids.ndim == 2 else ids[None]
        out = np.zeros((len(rows), depth), np.float32)  # (batch, depth)
        for r, row in enumerate(rows):
            np.add.at(out[r], row[row >= 0], 1.0)
        if self.output_mode != "count":
            out = np.minimum(out, 1.0)
        return out if ids.ndim == 2 else out[0]

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        return (*tuple(input_shape)[:-1], depth)

    # ----- files -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        vocab = self.input_vocabulary
        if isinstance(vocab, np.ndarray):
            vocab = vocab.tolist()
        config = {
            "invert": self.invert, "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
            "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": None,
            "vocabulary": None if vocab is None else list(vocab),
            "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method,
            "salt": self.salt,
        }  # fmt: skip
        return {**super().get_config(), **config}

    def save_assets(self, dir_path: str) -> None:
        """Keras's layout: `vocabulary.txt` in the layer's assets folder, unless in the config."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, VOCABULARY_FILE), "w", encoding="utf-8") as f:
            f.write("\n".join(str(w) for w in self.get_vocabulary()))

    def load_assets(self, dir_path: str) -> None:
        if self.input_vocabulary is not None:
            return
        values = self._read_vocabulary_file(os.path.join(dir_path, VOCABULARY_FILE))
        if values:
            self.set_vocabulary(values)


class StringLookup(IndexLookup):
    """Maps strings to integer indices (Keras 3's `keras.layers.StringLookup`)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):  # fmt: skip
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(
            max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
            oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
            output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse,
            name=name, salt=salt, vocabulary_dtype="string", **kwargs,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["vocabulary_dtype"]  # Keras: strings have one dtype, not exposed
        return {**config, "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Maps integers to contiguous indices (Keras 3's `keras.layers.IntegerLookup`)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False, oov_method="floormod",
                 salt=None, name=None, **kwargs):  # fmt: skip
        if vocabulary_dtype != "int64":
            raise ValueError(
                "IntegerLookup: only `vocabulary_dtype='int64'` is supported. "
                f"Received: vocabulary_dtype={vocabulary_dtype}"
            )
        super().__init__(
            max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
            oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
            output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse,
            oov_method=oov_method, name=name, salt=salt, vocabulary_dtype="int64", **kwargs,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
