"""The text a character model learns from: reading it, its vocabulary, and its batches.

Batches are cut as contiguous streams for a stateful model: the text is split into
`batch_size` rows, each a contiguous piece of the text, and batch k holds characters
[k*T, (k+1)*T) of every row. So row r of batch k+1 continues row r of batch k, and the states a
stateful LSTM carries from one batch to the next belong to the text that follows.
"""

from __future__ import annotations

import glob
import hashlib
import os
import sysconfig
from dataclasses import dataclass

import numpy as np

from lstmkit.cli.errors import CliError

STDLIB = "stdlib"  # the corpus name recorded in a checkpoint for the default text
STDLIB_CHARS = 2_000_000  # cap: a few hundred steps per epoch at the default sizes
VALIDATION_FRACTION = 0.05


@dataclass
class Corpus:
    text: str
    source: str  # a file's absolute path, or STDLIB
    description: str  # for people: "3 files of the Python standard library (...)"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def read_text_file(path: str) -> Corpus:
    """A UTF-8 text file, or a CliError saying why it is not one."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise CliError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CliError(f"{path} is a directory; give a text file") from None
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from None
    if not raw:
        raise CliError(f"{path} is empty; give a text file with some text in it")
    if b"\x00" in raw:
        raise CliError(f"{path} is a binary file (it holds NUL bytes), not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(
            f"{path} is not UTF-8 text (undecodable byte at offset {e.start}); is it binary?"
        ) from None
    return Corpus(text, os.path.abspath(path), f"{path} ({len(text):,} characters)")


def stdlib_files() -> list[str]:
    """The top-level `*.py` files of the running Python's standard library, sorted by name."""
    folder = sysconfig.get_paths()["stdlib"]
    return sorted(glob.glob(os.path.join(folder, "*.py")))


def stdlib_corpus(limit: int = STDLIB_CHARS) -> Corpus:
    """Python source present on every machine: the standard library's top-level modules in name
    order, ASCII files only (a small vocabulary), whole files, until `limit` characters."""
    parts: list[str] = []
    names: list[str] = []
    total = 0
    for path in stdlib_files():
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        if not text.isascii() or not text.strip():
            continue
        text = text[: limit - total]
        parts.append(text)
        names.append(os.path.basename(path))
        total += len(text)
        if total >= limit:
            break
    if not parts:
        raise CliError("found no Python source in the standard library; give a TEXT_FILE")
    folder = sysconfig.get_paths()["stdlib"]
    description = (
        f"Python source: {len(parts)} modules of the standard library in {folder}, "
        f"{names[0]} to {names[-1]} ({total:,} characters)"
    )
    return Corpus("".join(parts), STDLIB, description)


class Vocabulary:
    """Characters <-> ids: the sorted set of the characters of the training text."""

    def __init__(self, chars: str):
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}

    @classmethod
    def of(cls, text: str) -> Vocabulary:
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str, what: str = "the text") -> np.ndarray:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            shown = " ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
            raise CliError(
                f"{what} has {len(unknown)} character(s) the model never saw in training: "
                f"{shown}; it knows {len(self)} characters"
            )
        return np.fromiter((self.index[c] for c in text), np.int32, len(text))

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def split(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first 95 % for training, the last 5 % for validation (contiguous: no leakage of a
    line into both sides other than at the one cut)."""
    n_train = int(len(ids) * (1 - VALIDATION_FRACTION))
    return ids[:n_train], ids[n_train:]


def streams(ids: np.ndarray, batch_size: int, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), each (steps*batch_size, seq_length): fit with shuffle=False and this batch size
    gives batch k = characters [k*T, (k+1)*T) of each of the batch_size rows; y is x shifted by
    one character."""
    steps = (len(ids) - 1) // (batch_size * seq_length)
    span = steps * seq_length  # characters per row
    inputs = ids[: batch_size * span].reshape(batch_size, span)  # (rows, span)
    targets = ids[1 : batch_size * span + 1].reshape(batch_size, span)

    def as_samples(a: np.ndarray) -> np.ndarray:  # (rows, span) -> (steps*rows, T)
        return a.reshape(batch_size, steps, seq_length).transpose(1, 0, 2).reshape(-1, seq_length)

    return as_samples(inputs), as_samples(targets)


def training_data(
    text: str, vocab: Vocabulary, batch_size: int, seq_length: int, where: str
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Training and validation streams, or a CliError if the text is too short for one batch.

    Validation uses the same rows and, when the 5 % allows it, the same sequence length (one
    compiled program serves both)."""
    train_ids, val_ids = split(vocab.encode(text))
    need = batch_size * seq_length + 1
    if len(train_ids) < need or len(val_ids) < batch_size + 1:
        total = max(-(-need // (1 - VALIDATION_FRACTION)), (batch_size + 1) / VALIDATION_FRACTION)
        raise CliError(
            f"{where} is too short for one batch: {len(text):,} characters, and one batch of "
            f"--batch-size {batch_size} x --seq-length {seq_length} needs a text of at least "
            f"{int(total) + 1:,} (95 % training, 5 % validation); give a longer text or smaller "
            "--batch-size/--seq-length"
        )
    val_length = min(seq_length, (len(val_ids) - 1) // batch_size)
    return streams(train_ids, batch_size, seq_length), streams(val_ids, batch_size, val_length)
