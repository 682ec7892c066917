"""Keras 2's `keras.preprocessing.text`: `Tokenizer`, `text_to_word_sequence`, `one_hot`,
`hashing_trick`, `tokenizer_from_json` (Keras 3 keeps them as deprecated legacy APIs).

Kept for the tutorials that use them; new code should prefer `lstmkit.layers.TextVectorization`.
The rules are Keras's: filtered characters become the split character, words are counted in
order of first appearance, the index orders them by count (ties keep that order), index 0 is
never a word, and the OOV token, when given, is index 1.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(input_text: str, filters: str = FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:  # fmt: skip
    """The words of `input_text`: lowercased, filtered characters turned into `split`."""
    if lower:
        input_text = input_text.lower()
    input_text = input_text.translate(str.maketrans(dict.fromkeys(filters, split)))
    return [w for w in input_text.split(split) if w]


def hashing_trick(text: str, n: int, hash_function: Any = None, filters: str = FILTERS,
                  lower: bool = True, split: str = " ",
                  analyzer: Callable | None = None) -> list[int]:  # fmt: skip
    """Each word hashed into [1, n): `hash` (salted per process) or "md5" (stable)."""
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        hash_function = _md5
    words = analyzer(text) if analyzer else text_to_word_sequence(text, filters, lower, split)
    return [hash_function(w) % (n - 1) + 1 for w in words]


def _md5(word: str) -> int:
    return int(hashlib.md5(word.encode()).hexdigest(), 16)


def one_hot(input_text: str, n: int, filters: str = FILTERS, lower: bool = True, split: str = " ",
            analyzer: Callable | None = None) -> list[int]:  # fmt: skip
    """`hashing_trick` with Python's `hash`."""
    return hashing_trick(input_text, n, hash, filters, lower, split, analyzer)


class Tokenizer:
    """Words (or characters) to integer indices, by frequency (Keras 2's Tokenizer)."""

    def __init__(self, num_words: int | None = None, filters: str = FILTERS, lower: bool = True,
                 split: str = " ", char_level: bool = False, oov_token: str | None = None,
                 analyzer: Callable | None = None, **kwargs: Any):  # fmt: skip
        if "nb_words" in kwargs:  # Keras 1
            warnings.warn(
                "The `nb_words` argument in `Tokenizer` has been renamed `num_words`.",
                stacklevel=2,
            )
            num_words = kwargs.pop("nb_words")
        self.document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Tokenizer: unrecognized keyword arguments: {sorted(kwargs)}")
        self.num_words, self.filters, self.split, self.lower = num_words, filters, split, lower
        self.char_level, self.oov_token, self.analyzer = char_level, oov_token, analyzer
        self.word_counts: dict[str, int] = {}  # first-seen order
        self.word_docs: defaultdict = defaultdict(int)
        self.index_docs: defaultdict = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    def _words(self, text: Any) -> list[str]:
        if self.char_level or isinstance(text, list):  # characters, or already split words
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts: Iterable[Any]) -> None:
        """Count the words of `texts` and rebuild the index (most frequent first)."""
        for text in texts:
            self.document_count += 1
            words = self._words(text)
            for w in words:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(words):
                self.word_docs[w] += 1
        # A stable sort: equal counts keep their first-seen order, as Keras's.
        ranked = sorted(self.word_counts, key=lambda w: -self.word_counts[w])
        vocabulary = ([self.oov_token] if self.oov_token is not None else []) + ranked
        self.word_index = {w: i for i, w in enumerate(vocabulary, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in list(self.word_docs.items()):
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences: list) -> None:
        """Document frequencies from index sequences (for `sequences_to_matrix(mode="tfidf")`)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def _kept(self, index: int | None) -> int | None:
        """The index a word keeps: beyond `num_words` it becomes the OOV index (or is dropped)."""
        oov = self.word_index.get(self.oov_token)
        if index is None:
            return oov if self.oov_token is not None else None
        return oov if self.num_words and index >= self.num_words else index

    def texts_to_sequences_generator(self, texts: Iterable[Any]) -> Iterator[list[int]]:
        for text in texts:
            ids = (self._kept(self.word_index.get(w)) for w in self._words(text))
            yield [i for i in ids if i is not None]

    def texts_to_sequences(self, texts: Iterable[Any]) -> list[list[int]]:
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences: Iterable[Any]) -> Iterator[str]:
        for seq in sequences:
            words = []
            for num in seq:
                index = self._kept(num if num in self.index_word else None)
                if index is not None:
                    words.append(self.index_word[index])
            yield " ".join(words)

    def sequences_to_texts(self, sequences: Iterable[Any]) -> list[str]:
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts: Iterable[Any], mode: str = "binary") -> np.ndarray:
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: list, mode: str = "binary") -> np.ndarray:
        """(samples, num_words) float64: "binary", "count", "freq" or "tfidf" per index."""
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError(
                "Specify a dimension (`num_words` argument), or fit on some text data first."
            )
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError(f"Unknown vectorization mode: {mode!r}; expected one of "
                             "'binary', 'count', 'freq', 'tfidf'.")  # fmt: skip
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        x = np.zeros((len(sequences), width))  # (samples, num_words)
        for row, seq in enumerate(sequences):
            for j, c in Counter(j for j in seq if j < width).items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:  # tf-idf, Keras's weighting: (1 + log tf) * log(1 + N / (1 + df))
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[row, j] = (1 + np.log(c)) * idf
        return x

    def get_config(self) -> dict[str, Any]:
        return {
            "num_words": self.num_words, "filters": self.filters, "lower": self.lower,
            "split": self.split, "char_level": self.char_level, "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }  # fmt: skip

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(
            {"class_name": type(self).__name__, "config": self.get_config()}, **kwargs
        )


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """A Tokenizer from `Tokenizer.to_json()` (Keras's or lstmkit's)."""
    config = dict(json.loads(json_string)["config"])
    tables = {k: json.loads(config.pop(k)) for k in
              ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}  # fmt: skip
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = tables["word_counts"]
    tokenizer.word_docs = tables["word_docs"]
    tokenizer.index_docs = {int(k): v for k, v in tables["index_docs"].items()}  # JSON keys: str
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = tables["word_index"]
    return tokenizer
