"""TextVectorization, StringLookup and IntegerLookup against Keras 3's documented behaviour.

TensorFlow is not installed here and Keras 3 builds these layers on it (its constructors raise
"requires TensorFlow"), so the expected values are hand-checked from Keras's docstrings
(`keras/src/layers/preprocessing/*.py`, the `>>>` examples) and from its source: adapt's order is
`np.lexsort((tokens, counts))[::-1]`, `tf.strings.lower` lowercases ASCII only,
`tf.strings.split` splits on runs of ASCII whitespace, punctuation is Keras's regex.
"""

import numpy as np
import pytest

from lstmkit import layers
from lstmkit.layers import IntegerLookup, StringLookup, TextVectorization


def test_text_vectorization_docstring_adapt():
    tv = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    tv.adapt(["foo bar", "bar baz", "baz bada boom"])
    # counts: bar 2, baz 2, then foo, boom, bada (ties by token, descending)
    assert tv.get_vocabulary() == ["", "[UNK]", "baz", "bar", "foo", "boom", "bada"]
    np.testing.assert_array_equal(tv([["foo qux bar"], ["qux baz"]]), [[4, 1, 3, 0], [1, 2, 0, 0]])
    assert tv.vocabulary_size() == 7


def test_text_vectorization_given_vocabulary_and_standardize():
    tv = TextVectorization(vocabulary=["earth", "wind", "and", "fire"], output_sequence_length=4)
    assert tv.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    assert tv.get_vocabulary(include_special_tokens=False) == ["earth", "wind", "and", "fire"]
    # lowercase + punctuation stripped; truncated to 4; padded with 0
    out = tv(np.array(["Earth, WIND & fire... and earth", "fire!"], dtype=object))
    np.testing.assert_array_equal(out, [[2, 3, 5, 4], [5, 0, 0, 0]])
    assert out.dtype == np.int64
    # without output_sequence_length: padded to the longest text of the batch
    assert TextVectorization(vocabulary=["a"])(["a a a", "b"]).shape == (2, 3)


def test_text_vectorization_keras_text_rules():
    # ASCII-only lowercasing (tf.strings.lower), ASCII whitespace split, Keras's punctuation set
    tv = TextVectorization(standardize="lower")
    tv.adapt(["ÉCOLE Ab\u00a0cd x-y"])
    # "É" is not ASCII: kept; NBSP is not ASCII whitespace: no split; ties by token, descending
    assert tv.get_vocabulary() == ["", "[UNK]", "École", "x-y", "ab\u00a0cd"]
    tv = TextVectorization(standardize="strip_punctuation", split="character")
    tv.adapt(["Ab.b!"])
    assert tv.get_vocabulary() == ["", "[UNK]", "b", "A"]
    tv = TextVectorization(standardize=None, split=None)
    tv.adapt(["x y", "x y", "z"])
    assert tv.get_vocabulary() == ["", "[UNK]", "x y", "z"]
    np.testing.assert_array_equal(tv(["z", "q"]), [3, 1])
    tv = TextVectorization(vocabulary=["a", "b"], split=None, output_sequence_length=3)
    np.testing.assert_array_equal(tv([["a"], ["b"]]), [[2, 0, 0], [3, 0, 0]])  # padded, dense


def test_text_vectorization_callables_ngrams_and_modes():
    tv = TextVectorization(
        standardize=lambda t: np.char.upper(t), split=lambda t: [s.split("-") for s in t]
    )
    tv.adapt(["a-b", "b-c"])
    assert tv.get_vocabulary() == ["", "[UNK]", "B", "C", "A"]
    tv = TextVectorization(ngrams=2, output_mode="count")
    tv.adapt(["a b a"])
    # tokens a, b, a, "a b", "b a": a twice, then the rest by token descending; no "" here
    assert tv.get_vocabulary() == ["[UNK]", "a", "b a", "b", "a b"]
    np.testing.assert_array_equal(tv(["a b a", "c"]), [[0, 2, 1, 1, 1], [1, 0, 0, 0, 0]])
    tv = TextVectorization(vocabulary=["a", "b"], output_mode="multi_hot")
    np.testing.assert_array_equal(tv(["a a c"]), [[1, 1, 0]])
    tv = TextVectorization(max_tokens=4)
    tv.adapt(["d d d c c b a"])
    assert tv.get_vocabulary() == ["", "[UNK]", "d", "c"]


def test_text_vectorization_errors_and_config():
    with pytest.raises(ValueError, match="output_mode='tf_idf' is not supported.*'int'"):
        TextVectorization(output_mode="tf_idf")
    with pytest.raises(ValueError, match="`split` must be one of"):
        TextVectorization(split="comma")
    with pytest.raises(ValueError, match="must not be set"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        TextVectorization(vocabulary=["a"])(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="after setting a static vocabulary"):
        TextVectorization(vocabulary=["a"]).adapt(["a"])
    tv = TextVectorization(max_tokens=10, ngrams=(1, 2), output_sequence_length=5)
    tv.adapt(["x y"])
    cfg = tv.get_config()
    assert {
        k: cfg[k]
        for k in (
            "max_tokens",
            "ngrams",
            "output_sequence_length",
            "vocabulary",
            "vocabulary_size",
            "standardize",
            "split",
        )
    } == {
        "max_tokens": 10,
        "ngrams": [1, 2],
        "output_sequence_length": 5,
        "vocabulary": None,
        "vocabulary_size": 5,
        "standardize": "lower_and_strip_punctuation",
        "split": "whitespace",
    }
    clone = TextVectorization.from_config(cfg)
    assert clone.vocabulary_size() == 2 and clone._ngrams == (1, 2)


def test_inside_a_model_is_a_clear_error():
    tv = TextVectorization(vocabulary=["a"])
    with pytest.raises(TypeError, match="outside the jitted model.*ids = layer\\(texts\\)"):
        tv(layers.Input(shape=(1,)))


def test_string_lookup_docstrings():
    vocab, data = ["a", "b", "c", "d"], [["a", "c", "d"], ["d", "z", "b"]]
    np.testing.assert_array_equal(StringLookup(vocabulary=vocab)(data), [[1, 3, 4], [4, 0, 2]])
    layer = StringLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    np.testing.assert_array_equal(layer(data), [[5, 3, 1], [1, 2, 4]])
    one_hot = StringLookup(vocabulary=vocab, output_mode="one_hot")(["a", "b", "c", "d", "z"])
    np.testing.assert_array_equal(one_hot, np.eye(5)[[1, 2, 3, 4, 0]])
    data4 = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    multi = StringLookup(vocabulary=vocab, output_mode="multi_hot")(data4)
    np.testing.assert_array_equal(multi, [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    count = StringLookup(vocabulary=vocab, output_mode="count")(data4)
    np.testing.assert_array_equal(count, [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    inv = StringLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(
        inv([[1, 3, 4], [4, 0, 2]]), [["a", "c", "d"], ["d", "[UNK]", "b"]]
    )
    masked = StringLookup(vocabulary=vocab, mask_token="")
    assert masked.get_vocabulary()[:2] == ["", "[UNK]"]
    np.testing.assert_array_equal(masked([["a", ""]]), [[2, 0]])
    with pytest.raises(ValueError, match="FarmHash64"):
        StringLookup(vocabulary=vocab, num_oov_indices=2)
    with pytest.raises(ValueError, match="num_oov_indices=0.*'z'"):
        StringLookup(vocabulary=vocab, num_oov_indices=0)(["z"])
    with pytest.raises(ValueError, match="repeated terms \\['a'\\]"):
        StringLookup(vocabulary=["a", "a"])
    cfg = StringLookup(vocabulary=vocab, name="sl").get_config()
    assert (
        cfg["vocabulary"] == vocab and cfg["encoding"] == "utf-8" and "vocabulary_dtype" not in cfg
    )


def test_integer_lookup_docstrings():
    vocab = [12, 36, 1138, 42]
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    np.testing.assert_array_equal(IntegerLookup(vocabulary=vocab)(data), [[1, 3, 4], [4, 0, 2]])
    layer = IntegerLookup()
    layer.adapt(data)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    np.testing.assert_array_equal(layer(data), [[5, 2, 1], [1, 3, 4]])
    two = IntegerLookup(vocabulary=vocab, num_oov_indices=2)
    np.testing.assert_array_equal(
        two(np.array([[12, 1138, 42], [37, 1000, 36]])), [[2, 4, 5], [1, 0, 3]]
    )
    floormod = IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4)
    np.testing.assert_array_equal(floormod(np.array([100, 300, 700, 1100, 1700, 2000])), [0] * 6)
    masked = IntegerLookup(vocabulary=vocab, mask_token=0)
    np.testing.assert_array_equal(masked(np.array([0, 12, 7])), [0, 2, 1])
    inv = IntegerLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(
        inv(np.array([[1, 3, 4], [4, 0, 2]])), [[12, 1138, 42], [42, -1, 36]]
    )
    assert IntegerLookup(vocabulary=np.array(vocab)).get_config()["vocabulary"] == vocab


def test_assets_in_keras_layout(tmp_path):
    tv = TextVectorization()
    tv.adapt(["b a a"])
    tv.save_assets(str(tmp_path))
    assert (tmp_path / "vocabulary.txt").read_text() == "\n[UNK]\na\nb"
    fresh = TextVectorization()
    fresh.load_assets(str(tmp_path))
    assert fresh.get_vocabulary() == ["", "[UNK]", "a", "b"]
    il = IntegerLookup(mask_token=0)
    il.adapt(np.array([5, 5, 9]))
    (tmp_path / "il").mkdir()
    il.save_assets(str(tmp_path / "il"))
    assert (tmp_path / "il" / "vocabulary.txt").read_text() == "0\n-1\n5\n9"
    back = IntegerLookup(mask_token=0)
    back.load_assets(str(tmp_path / "il"))
    assert back.get_vocabulary() == [0, -1, 5, 9]


def test_keras_file_round_trip_in_keras_layout(tmp_path):
    """The zip layout is Keras's saving_lib walk (assets per saveable's inner path, an empty
    named `vars` group per saveable); Keras itself cannot open it here without TensorFlow."""
    import json
    import zipfile

    import h5py

    from lstmkit import saving

    tv = TextVectorization(max_tokens=20, output_sequence_length=3, name="vec")
    tv.adapt(["to be or not to be"])
    path = str(tmp_path / "vec.keras")
    saving.save_model(tv, path)
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"assets/vocabulary.txt", "assets/_lookup_layer/vocabulary.txt"} <= names
        assert zf.read("assets/vocabulary.txt").decode() == "\n[UNK]\nto\nbe\nor\nnot"
        config = json.loads(zf.read("config.json"))
        assert (config["module"], config["class_name"]) == ("keras.layers", "TextVectorization")
        zf.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as f:
        assert f["vars"].attrs["name"] == "vec" and "_lookup_layer/vars" in f
    back = saving.load_model(path)
    assert back.get_vocabulary() == tv.get_vocabulary()
    np.testing.assert_array_equal(back(["not to be", "be"]), [[5, 2, 3], [3, 0, 0]])


def test_loads_a_file_written_as_keras_writes_it(tmp_path):
    """config.json as Keras 3's TextVectorization.get_config() writes it (dtype policy dict,
    vocabulary_size), the vocabulary only in the assets."""
    import json
    import zipfile

    from lstmkit import saving

    config = {"name": "text_vectorization", "trainable": True,
              "dtype": {"module": "keras", "class_name": "DTypePolicy",
                        "config": {"name": "float32"}, "registered_name": None},
              "max_tokens": None, "standardize": "lower_and_strip_punctuation",
              "split": "whitespace", "ngrams": None, "output_mode": "int",
              "output_sequence_length": 4, "pad_to_max_tokens": False, "sparse": False,
              "ragged": False, "vocabulary": None, "idf_weights": None, "encoding": "utf-8",
              "vocabulary_size": 5}  # fmt: skip
    path = tmp_path / "keras.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps({"module": "keras.layers",
                    "class_name": "TextVectorization", "config": config,
                    "registered_name": None}))  # fmt: skip
        zf.writestr("assets/vocabulary.txt", "\n[UNK]\nfoo\nbar\nbaz")
        zf.writestr("assets/_lookup_layer/vocabulary.txt", "\n[UNK]\nfoo\nbar\nbaz")
    layer = saving.load_model(str(path))
    np.testing.assert_array_equal(layer(["Bar, FOO! qux"]), [[3, 2, 1, 0]])
    assert layer.vocabulary_size() == 5


def test_a_model_file_holding_a_vectorizer_says_why_it_cannot_load():
    from lstmkit.saving import config as saving_config

    entry = {"module": "keras.layers", "class_name": "TextVectorization", "config": {"name": "tv"}}
    with pytest.raises(ValueError, match="layer 'tv' \\(TextVectorization\\) runs in numpy"):
        saving_config.deserialize_layer(entry)
