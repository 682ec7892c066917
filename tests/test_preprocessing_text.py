"""Keras 2's text preprocessing (`lstmkit.preprocessing.text`) against Keras 3's own legacy copy
(`keras.src.legacy.preprocessing.text`, pure Python, the same module Keras 3 still ships)."""

import numpy as np
import pytest
from keras.src.legacy.preprocessing import text as keras_text

from lstmkit.preprocessing import text

TEXTS = [
    "The cat sat on the mat.",
    "The dog ate my homework!",
    "Cats and dogs; dogs and cats.",
    "",
]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"num_words": 6, "oov_token": "<OOV>"},
        {"num_words": 5},
        {"char_level": True, "lower": False},
    ],
)
def test_tokenizer_matches_keras(kwargs):
    ours, theirs = text.Tokenizer(**kwargs), keras_text.Tokenizer(**kwargs)
    ours.fit_on_texts(TEXTS)
    theirs.fit_on_texts(TEXTS)
    assert ours.word_index == theirs.word_index
    assert ours.word_counts == dict(theirs.word_counts)
    probe = ["the cat ate the unknown dogs", "mat on homework"]
    assert ours.texts_to_sequences(probe) == theirs.texts_to_sequences(probe)
    seqs = [[1, 2, 3, 40], [5, 9, 1]]
    assert ours.sequences_to_texts(seqs) == theirs.sequences_to_texts(seqs)
    for mode in ("binary", "count", "freq", "tfidf"):
        np.testing.assert_allclose(
            ours.texts_to_matrix(probe, mode=mode), theirs.texts_to_matrix(probe, mode=mode)
        )
    back = keras_text.tokenizer_from_json(ours.to_json())
    assert back.word_index == theirs.word_index
    assert text.tokenizer_from_json(theirs.to_json()).index_word == theirs.index_word


def test_functions_match_keras():
    sample = "Hello, World! Hello\tagain-and again"
    assert text.text_to_word_sequence(sample) == keras_text.text_to_word_sequence(sample)
    assert text.text_to_word_sequence(sample, lower=False, split="-") == (
        keras_text.text_to_word_sequence(sample, lower=False, split="-")
    )
    assert text.hashing_trick(sample, 50, "md5") == keras_text.hashing_trick(sample, 50, "md5")
    assert text.one_hot(sample, 20) == keras_text.one_hot(sample, 20)  # same process: same hash
    with pytest.raises(ValueError, match="Unknown vectorization mode: 'bogus'"):
        tok = text.Tokenizer()
        tok.fit_on_texts(["a"])
        tok.texts_to_matrix(["a"], mode="bogus")
