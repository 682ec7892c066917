"""The text side: contiguous streams for a stateful model, vocabulary, the default corpus."""

import numpy as np
import pytest

from lstmkit.cli import corpus
from lstmkit.cli.errors import CliError


def test_streams_continue_row_by_row():
    ids = np.arange(1000)
    x, y = corpus.streams(ids, batch_size=4, seq_length=10)
    steps = 999 // 40
    assert x.shape == (steps * 4, 10) and y.shape == x.shape
    span = steps * 10
    for k in range(steps):  # batch k = rows k*4 .. k*4+3 (fit, shuffle=False, batch_size=4)
        for r in range(4):
            start = r * span + k * 10  # row r is the contiguous piece [r*span, (r+1)*span)
            np.testing.assert_array_equal(x[k * 4 + r], ids[start : start + 10])
            np.testing.assert_array_equal(y[k * 4 + r], ids[start + 1 : start + 11])
    # row r of batch k+1 starts where row r of batch k ended
    np.testing.assert_array_equal(x[4 + 2][0], x[2][-1] + 1)


def test_split_is_95_5_and_contiguous():
    train, val = corpus.split(np.arange(200))
    assert len(train) == 190 and len(val) == 10 and train[-1] + 1 == val[0]


def test_vocabulary_round_trip_and_unknown_characters():
    vocab = corpus.Vocabulary.of("hello world")
    assert vocab.chars == " dehlorw"
    assert vocab.decode(vocab.encode("low")) == "low"
    with pytest.raises(CliError, match=r"--prompt has 2 character\(s\).*'X' 'Z'"):
        vocab.encode("XhZ", "--prompt")


def test_too_short_names_the_sizes():
    vocab = corpus.Vocabulary.of("ab")
    with pytest.raises(CliError, match=r"too short for one batch: 100 characters.*--batch-size 4"):
        corpus.training_data("ab" * 50, vocab, 4, 30, "t.txt")


def test_default_corpus_is_python_source_and_deterministic():
    a = corpus.stdlib_corpus(limit=50_000)
    assert a.source == corpus.STDLIB and len(a.text) == 50_000 and a.text.isascii()
    assert "def " in a.text and "import" in a.text
    assert corpus.stdlib_corpus(limit=50_000).sha256 == a.sha256
