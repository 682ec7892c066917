"""TextVectorization: Keras 3's text-to-ids layer, in numpy on the host.

The steps are Keras's: standardize (ASCII lowercasing as `tf.strings.lower`, punctuation removed
with Keras's regex), split (ASCII whitespace runs as `tf.strings.split`, or Unicode characters),
n-grams joined by spaces, then a `StringLookup` with `""` as the padding index 0 and `"[UNK]"`
as index 1. Like Keras on JAX it cannot run inside a jitted model: call it on the texts first
(`ids = vectorizer(texts)`) and feed the ids to a model that starts at the Embedding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmkit.layers.base import Layer
from lstmkit.layers.index_lookup import StringLookup, as_numpy, host_only_error
from lstmkit.utils.dataset_utils import adapt_batches

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")
# Keras's regex (`,-\.` is the range from ',' to '.').
PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
ASCII_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _check_choice(value: Any, allowed: tuple, arg: str) -> None:
    if value is None or callable(value) or value in allowed:
        return
    raise ValueError(
        f"TextVectorization: `{arg}` must be one of {list(allowed)}, None or a callable. "
        f"Received: {arg}={value!r}"
    )


def ngrams_of(tokens: list[str], widths: tuple[int, ...]) -> list[str]:
    """`tf.strings.ngrams(tokens, widths, separator=" ")`: all n-grams of each width in turn."""
    out: list[str] = []
    for n in widths:
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


class TextVectorization(Layer):
    """Strings to token ids (`output_mode="int"`), or to multi-hot / count vectors."""

    def __init__(
        self,
        max_tokens: int | None = None,
        standardize: str | Callable | None = "lower_and_strip_punctuation",
        split: str | Callable | None = "whitespace",
        ngrams: int | tuple | None = None,
        output_mode: str = "int",
        output_sequence_length: int | None = None,
        pad_to_max_tokens: bool = False,
        vocabulary: Any = None,
        idf_weights: Any = None,
        sparse: bool = False,
        ragged: bool = False,
        encoding: str = "utf-8",
        name: str | None = None,
        **kwargs: Any,
    ):
        _check_choice(standardize, STANDARDIZE, "standardize")
        _check_choice(split, SPLIT, "split")
        output_mode = {"binary": "multi_hot"}.get(output_mode, output_mode)
        if output_mode not in ("int", "multi_hot", "count"):
            raise ValueError(
                f"TextVectorization: output_mode={output_mode!r} is not supported by lstmkit; "
                "supported: ['int', 'multi_hot', 'count'] ('one_hot' and 'tf_idf' are not)."
            )
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        int_tuple = isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams)
        if not (ngrams is None or isinstance(ngrams, int) or int_tuple):
            raise ValueError(
                f"TextVectorization: `ngrams` must be None, an integer, or a tuple of integers. "
                f"Received: ngrams={ngrams!r}"
            )
        if output_mode == "int" and not (
            output_sequence_length is None or isinstance(output_sequence_length, int)
        ):
            raise ValueError(
                "TextVectorization: `output_sequence_length` must be either None or an integer "
                "when `output_mode` is 'int'. "
                f"Received: output_sequence_length={output_sequence_length!r}"
            )
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(
                "TextVectorization: `output_sequence_length` must not be set if `output_mode` is "
                f"not 'int'. Received output_sequence_length={output_sequence_length}."
            )
        if ragged:
            raise ValueError(
                "TextVectorization: `ragged=True` needs the TensorFlow backend in Keras; "
                "not supported."
            )
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._standardize, self._split, self._ngrams_arg = standardize, split, ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode, self._output_sequence_length = output_mode, output_sequence_length
        self._encoding, self._ragged = encoding, ragged
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            sparse=sparse, has_input_vocabulary=has_input_vocabulary, encoding=encoding,
            vocabulary_size=vocabulary_size,
        )  # fmt: skip

    # ----- the text steps ----------------------------------------------------------------------
    def _standardize_texts(self, texts: np.ndarray) -> np.ndarray:
        if callable(self._standardize):
            # Keras on non-TF backends hands the callable a numpy array of unicode strings.
            return as_numpy(self._standardize(texts.astype(str)), "string")
        out = texts.copy()
        for i, t in enumerate(texts.reshape(-1).tolist()):
            if self._standardize in ("lower", "lower_and_strip_punctuation"):
                t = t.translate(ASCII_LOWER)
            if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
                t = PUNCTUATION.sub("", t)
            out.reshape(-1)[i] = t
        return out

    def _tokens(self, texts: np.ndarray) -> list:
        """Per text, its tokens (a list), or the texts as they are when `split=None`."""
        if self._split is None:
            return texts
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError(
                    "When using `TextVectorization` to tokenize strings, the input rank must be "
                    f"1 or the last shape dimension must be 1. Received: inputs.shape={texts.shape}"
                )
            texts = texts[..., 0]
        if callable(self._split):
            return [list(as_numpy(t, "string").reshape(-1)) for t in self._split(texts.astype(str))]
        if self._split == "whitespace":
            return [[w for w in ASCII_WHITESPACE.split(t) if w] for t in texts.reshape(-1).tolist()]
        return [list(t) for t in texts.reshape(-1).tolist()]  # "character": code points

    def _preprocess(self, inputs: Any) -> Any:
        tokens = self._tokens(self._standardize_texts(as_numpy(inputs, "string")))
        if self._ngrams is not None:
            if self._split is None:
                raise ValueError("TextVectorization: `ngrams` needs a `split` to make tokens from.")
            tokens = [ngrams_of(list(t), self._ngrams) for t in tokens]
        return tokens

    # ----- adapt and the vocabulary ------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Build the vocabulary from texts: an array or list, or an iterable of batches."""
        self.reset_state()
        for batch in adapt_batches(data, steps):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        tokens = self._preprocess(data)
        flat = [w for t in tokens for w in t] if self._split is not None else list(np.ravel(tokens))
        self._lookup_layer.update_state(np.array(flat, dtype=object) if flat else [])

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ----- calling -----------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(inputs, "node") or type(inputs).__name__ == "KerasTensor":
            raise host_only_error(self)
        return self.vectorize(inputs)

    def vectorize(self, inputs: Any) -> np.ndarray:
        """Texts to ids (int64, padded with 0 as Keras's ragged-to-dense), or encoded vectors."""
        tokens = self._preprocess(inputs)
        lookup = self._lookup_layer
        if self._split is None:  # dense: Keras trims and pads the last axis
            ids, length = lookup.lookup(tokens), self._output_sequence_length
            if self._output_mode != "int" or length is None or ids.ndim == 0:
                return ids
            ids = ids[..., :length]
            pad = [(0, 0)] * (ids.ndim - 1) + [(0, length - ids.shape[-1])]
            return np.pad(ids, pad)
        if self._output_mode != "int":
            if not tokens:
                return np.zeros((0, lookup.vocabulary_size()), np.float32)
            return np.stack([lookup.lookup(np.array(t, dtype=object)) for t in tokens])
        ids = [
            lookup.lookup(np.array(t, dtype=object)) if t else np.zeros(0, np.int64) for t in tokens
        ]
        length = self._output_sequence_length
        if length is None:
            length = max((len(i) for i in ids), default=0)
        out = np.zeros((len(ids), length), np.int64)  # (batch, length), 0 = padding
        for r, row in enumerate(ids):
            row = row[:length]
            out[r, : len(row)] = row
        return out

    def compute_output_shape(self, input_shape: Any, **kwargs: Any) -> Any:
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        return (input_shape[0], self._lookup_layer.compute_output_shape((None,))[-1])

    # ----- files -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        lookup = self._lookup_layer
        vocab = lookup.input_vocabulary
        config = {
            "max_tokens": lookup.max_tokens,
            "standardize": self._serialize_fn(self._standardize),
            "split": self._serialize_fn(self._split),
            "ngrams": list(self._ngrams_arg)
            if isinstance(self._ngrams_arg, tuple)
            else self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": lookup.sparse,
            "ragged": self._ragged,
            "vocabulary": None if vocab is None else list(np.asarray(vocab, dtype=object).tolist()),
            "idf_weights": None,
            "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
        }
        return {**super().get_config(), **config}

    @staticmethod
    def _serialize_fn(value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise ValueError(
            "TextVectorization: a callable `standardize`/`split` cannot be written to a config "
            "or file by lstmkit; set it again after loading, or use one of the named options."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorization:
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    def save_assets(self, dir_path: str) -> None:
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path: str) -> None:
        self._lookup_layer.load_assets(dir_path)
