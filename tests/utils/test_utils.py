"""`lstmkit.utils` sequence helpers against Keras 3's (`keras.utils`), swept with hypothesis.

`timeseries_dataset_from_array` needs TensorFlow in Keras 3 (not installed), so its oracle is
Keras's documented examples and a plain-loop reference of the documented window formula.
"""

import os

os.environ["KERAS_BACKEND"] = "jax"

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lstmkit  # noqa: E402
from lstmkit import utils  # noqa: E402


def _same_or_both_raise(ours_fn, theirs_fn):
    try:
        theirs = theirs_fn()
    except Exception:
        with pytest.raises(Exception):  # noqa: B017 (any error Keras gives, we give one too)
            ours_fn()
        return None
    ours = ours_fn()
    assert type(ours) is type(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    if ours.dtype == object:
        assert ours.tolist() == theirs.tolist()
    else:
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    return ours


# --- pad_sequences ------------------------------------------------------------------------

_ragged = st.lists(st.lists(st.integers(-50, 50), max_size=8), max_size=6)
_options = dict(
    maxlen=st.none() | st.integers(0, 9),
    dtype=st.sampled_from(["int32", "int64", "float32", "float64", "int8"]),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    value=st.sampled_from([0.0, -1, 7, 2.5]),
)


@settings(max_examples=150, deadline=None)
@given(sequences=_ragged, **_options)
def test_pad_sequences_matches_keras(sequences, maxlen, dtype, padding, truncating, value):
    kwargs = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
    _same_or_both_raise(
        lambda: utils.pad_sequences(sequences, **kwargs),
        lambda: keras.utils.pad_sequences(sequences, **kwargs),
    )


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 6), min_size=1, max_size=5),
    features=st.integers(1, 3),
    maxlen=st.none() | st.integers(1, 7),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
)
def test_pad_sequences_of_vectors_matches_keras(lengths, features, maxlen, padding, truncating):
    rng = np.random.default_rng(sum(lengths))
    sequences = [rng.normal(size=(n, features)).astype("f4") for n in lengths]
    kwargs = dict(maxlen=maxlen, dtype="float32", padding=padding, truncating=truncating)
    _same_or_both_raise(
        lambda: utils.pad_sequences(sequences, **kwargs),
        lambda: keras.utils.pad_sequences(sequences, **kwargs),
    )


@pytest.mark.parametrize(
    "sequences, kwargs",
    [
        ([["a", "bb"], ["ccc"]], dict(dtype=object, value="<pad>")),
        ([["a", "bb"], ["ccc"], []], dict(dtype="<U5", value="", maxlen=1, padding="post")),
        ([["a"]], dict(value="x")),  # a string value needs dtype=object: both refuse
        ([[1, 2], [3]], dict(padding="middle")),
        ([[1, 2], [3]], dict(truncating="middle", maxlen=1)),
        ([[], []], dict(padding="middle")),  # nothing to pad: Keras never checks `padding`
        ([], dict()),
        ([], dict(maxlen=3)),
        ([[1], 5], dict()),
        (5, dict()),
        ([[[1, 2]], [[1, 2, 3]]], dict()),  # steps of different shapes
        ((np.arange(3), np.arange(5)), dict(maxlen=4, dtype="float64", value=np.nan)),
        ([range(3), (1, 2)], dict(padding="post")),
    ],
)
def test_pad_sequences_edge_cases_match_keras(sequences, kwargs):
    _same_or_both_raise(
        lambda: utils.pad_sequences(sequences, **kwargs),
        lambda: keras.utils.pad_sequences(sequences, **kwargs),
    )


def test_pad_sequences_errors_name_the_argument():
    with pytest.raises(ValueError, match="padding"):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="position 1"):
        utils.pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="dtype=object"):
        utils.pad_sequences([["a"]], value="x")


def test_legacy_import_paths():
    from lstmkit.preprocessing.sequence import pad_sequences
    from lstmkit.utils.np_utils import normalize, to_categorical

    assert pad_sequences is utils.pad_sequences is lstmkit.preprocessing.sequence.pad_sequences
    assert to_categorical is utils.to_categorical and normalize is utils.normalize
    assert keras.preprocessing.sequence.pad_sequences  # the path exists in Keras 3 too
    assert callable(utils.set_random_seed) and callable(utils.next_key)


# --- to_categorical -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(st.integers(0, 6), min_size=1, max_size=12),
    shape=st.sampled_from(["flat", "column", "matrix"]),
    extra=st.none() | st.integers(0, 3),
    as_jax=st.booleans(),
)
def test_to_categorical_matches_keras(ids, shape, extra, as_jax):
    x = np.array(ids)
    if shape == "column":
        x = x[:, None]
    elif shape == "matrix" and len(ids) % 2 == 0:
        x = x.reshape(2, -1)
    num_classes = None if extra is None else max(ids) + 1 + extra
    if as_jax:
        x = jnp.asarray(x, "int32")
        if num_classes is None:  # Keras needs num_classes for tensors; we infer it eagerly
            num_classes = max(ids) + 1
    _same_or_both_raise(
        lambda: utils.to_categorical(x, num_classes),
        lambda: keras.utils.to_categorical(x, num_classes),
    )


def test_to_categorical_lists_and_inferred_classes():
    _same_or_both_raise(
        lambda: utils.to_categorical([[1], [3], [0]]),
        lambda: keras.utils.to_categorical([[1], [3], [0]]),
    )
    np.testing.assert_array_equal(
        utils.to_categorical(jnp.array([2, 0])), np.array([[0, 0, 1], [1, 0, 0]], "f4")
    )


# --- normalize ----------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    order=st.sampled_from([1, 2, 3]),
    axis=st.sampled_from([-1, 1]),
    zero_row=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_normalize_matches_keras(rows, cols, order, axis, zero_row, seed):
    x = np.random.default_rng(seed).normal(size=(rows, cols))
    if zero_row:
        x[0] = 0.0
    _same_or_both_raise(
        lambda: utils.normalize(x, axis=axis, order=order),
        lambda: keras.utils.normalize(x, axis=axis, order=order),
    )
    xj = jnp.asarray(x, "float32")
    ours, theirs = utils.normalize(xj, axis, order), keras.utils.normalize(xj, axis, order)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-7)


def test_normalize_over_axis_0_against_numpy():
    """Keras 3 expands the norm at axis -1 for axis=0 (misaligned); we follow the formula."""
    x = np.random.default_rng(3).normal(size=(3, 4))
    expected = x / np.linalg.norm(x, 2, axis=0, keepdims=True)
    np.testing.assert_allclose(utils.normalize(x, axis=0), expected, rtol=1e-12)
    v = np.array([3.0, 4.0])
    _same_or_both_raise(lambda: utils.normalize(v), lambda: keras.utils.normalize(v))


# --- timeseries_dataset_from_array --------------------------------------------------------


def _reference_windows(data, targets, length, stride, rate, start, end):
    """The documented formula, one window at a time."""
    start = start or 0
    end = len(data) if end is None else end
    windows, ys, p = [], [], 0
    while start + p + (length - 1) * rate < end and (targets is None or p < len(targets)):
        windows.append([data[start + p + i * rate] for i in range(length)])
        ys.append(None if targets is None else targets[start + p])
        p += stride
    return np.array(windows), ys


def test_timeseries_keras_docs_example_1():
    ds = utils.timeseries_dataset_from_array(
        np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3
    )
    (x,) = list(ds)
    np.testing.assert_array_equal(x[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(x[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(x[2], np.arange(6, 26, 2))
    np.testing.assert_array_equal(x[-1], np.arange(78, 98, 2))
    assert len(ds) == 1 and x.shape == (27, 10)


def test_timeseries_keras_docs_examples_2_and_3():
    data = np.random.default_rng(0).normal(size=(50, 2))
    ds = utils.timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10)
    inputs, targets = next(iter(ds))
    np.testing.assert_array_equal(inputs[0], data[:10])
    np.testing.assert_array_equal(targets[0], data[10])
    X, Y = np.arange(100), np.arange(100) * 2
    xs = utils.timeseries_dataset_from_array(X, None, sequence_length=20, sequence_stride=20)
    ys = utils.timeseries_dataset_from_array(Y, None, sequence_length=20, sequence_stride=20)
    for inputs, targets in zip(xs, ys):
        np.testing.assert_array_equal(inputs[0], X[:20])
        np.testing.assert_array_equal(targets[1], Y[20:40])


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(8, 40),
    length=st.integers(1, 6),
    stride=st.integers(1, 4),
    rate=st.integers(1, 3),
    batch=st.sampled_from([None, 1, 3, 128]),
    bounds=st.tuples(st.none() | st.integers(1, 5), st.none() | st.integers(6, 7)),
    with_targets=st.booleans(),
    cut=st.integers(0, 6),
)
def test_timeseries_windows_follow_the_formula(
    n, length, stride, rate, batch, bounds, with_targets, cut
):
    data = np.arange(n * 2, dtype="float64").reshape(n, 2)
    start, end = bounds
    cut = cut if start is None else 0  # fewer targets than steps bound the windows too
    targets = np.arange(100, 100 + n - cut) if with_targets else None
    ds = utils.timeseries_dataset_from_array(
        data, targets, length, stride, rate, batch_size=batch, start_index=start, end_index=end
    )
    windows, ys = _reference_windows(data, targets, length, stride, rate, start, end)
    items = list(ds)
    assert len(items) == len(ds)
    if batch is None:
        got = [(i[0] if with_targets else i) for i in items]
        got_y = [i[1] for i in items] if with_targets else []
    else:
        got = [w for b in items for w in (b[0] if with_targets else b)]
        got_y = [t for b in items for t in b[1]] if with_targets else []
        assert all(len(b[0] if with_targets else b) <= batch for b in items)
    np.testing.assert_array_equal(np.array(got).reshape(windows.shape), windows)
    if with_targets:
        assert list(got_y) == ys
    assert len(list(ds)) == len(items)  # re-iterable: a second pass gives the batches again


def test_timeseries_shuffle_is_seeded_and_keeps_the_windows():
    data = np.arange(30)
    a = [
        b
        for b in utils.timeseries_dataset_from_array(
            data, data, 4, batch_size=5, shuffle=True, seed=1
        )
    ]
    b = [
        b
        for b in utils.timeseries_dataset_from_array(
            data, data, 4, batch_size=5, shuffle=True, seed=1
        )
    ]
    plain = list(utils.timeseries_dataset_from_array(data, data, 4, batch_size=100))[0]
    xa = np.concatenate([x for x, _ in a])
    np.testing.assert_array_equal(xa, np.concatenate([x for x, _ in b]))
    assert not np.array_equal(xa, plain[0])
    np.testing.assert_array_equal(np.sort(xa, axis=0), np.sort(plain[0], axis=0))
    np.testing.assert_array_equal(np.concatenate([y for _, y in a]), xa[:, 0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(start_index=-1), "start_index"),
        (dict(start_index=20), "start_index"),
        (dict(start_index=5, end_index=5), "end_index"),
        (dict(end_index=20), "end_index"),
        (dict(sampling_rate=0), "sampling_rate"),
        (dict(sequence_stride=20), "sequence_stride"),
    ],
)
def test_timeseries_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        utils.timeseries_dataset_from_array(np.arange(20), None, 3, **kwargs)
