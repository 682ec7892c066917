"""The lean predict path (models/quick_predict.py) sees every change between two calls, as Keras.

Each test changes the model between two `predict_on_batch` (or one-batch `predict`) calls (new
weights, a fit, a frozen layer, a recompile, a new input signature, a grown Sequential) and
compares both calls with Keras 3 doing the same.
"""

import keras
import numpy as np
import pytest

import lstmkit

ATOL = 1e-5


def twin(lib, units=2, time=3):
    return lib.Sequential(
        [
            lib.Input(shape=(time, 2)),
            lib.layers.LSTM(units, return_sequences=False),
            lib.layers.Dense(1),
        ]
    )


def pair(seed=0, **kwargs):
    """(lstmkit model, Keras model) with the same random weights."""
    theirs, ours = twin(keras, **kwargs), twin(lstmkit, **kwargs)
    rng = np.random.default_rng(seed)
    theirs.set_weights([rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(1).normal(size=(4, 3, 2)).astype("float32")


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=ATOL, rtol=0)


def test_set_weights_between_calls_is_seen(x):
    ours, theirs = pair()
    first = ours.predict_on_batch(x)
    close(first, theirs.predict_on_batch(x))
    new = [w * 0.5 + 0.1 for w in theirs.get_weights()]
    theirs.set_weights(new)
    ours.set_weights(new)
    second = ours.predict_on_batch(x)
    assert np.max(np.abs(second - first)) > 1e-3
    close(second, theirs.predict_on_batch(x))
    # One layer's weights, and a Variable assigned directly.
    dense = [w + 1.0 for w in theirs.layers[-1].get_weights()]
    theirs.layers[-1].set_weights(dense)
    ours.layers[-1].set_weights(dense)
    close(ours.predict_on_batch(x), theirs.predict_on_batch(x))
    theirs.layers[-1].variables[1].assign(np.array([3.0], "float32"))  # the bias
    ours.layers[-1].variables[1].assign(np.array([3.0], "float32"))
    close(ours.predict_on_batch(x), theirs.predict_on_batch(x))


def test_fit_and_frozen_layer_between_calls_are_seen(x):
    ours, theirs = pair(seed=2)
    y = np.linspace(-1, 1, len(x)).astype("float32")[:, None]
    close(ours.predict_on_batch(x), theirs.predict_on_batch(x))
    for model in (ours, theirs):
        model.compile(model_optimizer(model), "mse")
        model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    after_fit = ours.predict_on_batch(x)
    close(after_fit, theirs.predict_on_batch(x))
    # Freeze the LSTM, recompile, fit again: only the Dense layer moves, in both.
    for model in (ours, theirs):
        model.layers[0].trainable = False
        model.compile(model_optimizer(model), "mse")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    frozen = ours.predict_on_batch(x)
    assert np.max(np.abs(frozen - after_fit)) > 1e-4
    close(frozen, theirs.predict_on_batch(x))
    close(ours.layers[0].get_weights()[0], theirs.layers[0].get_weights()[0])
    # train_on_batch too (it writes the weights back at once).
    ours.train_on_batch(x, y)
    theirs.train_on_batch(x, y)
    expected = theirs.predict_on_batch(x)
    close(ours.predict_on_batch(x), expected)
    close(ours.predict(x, verbose=0), expected)


def model_optimizer(model):
    lib = lstmkit if isinstance(model, lstmkit.Model) else keras
    return lib.optimizers.SGD(learning_rate=0.1)


def test_new_shapes_and_dtypes_of_the_input(x):
    ours, theirs = pair(seed=3)
    expected = theirs.predict_on_batch(x)  # rows are independent: slices are the references
    for batch in (x[:1], x[:3], x, x.astype("float64"), x[:2]):
        got = ours.predict_on_batch(batch)
        assert got.dtype == np.float32 and got.shape == (len(batch), 1)
        close(got, expected[: len(batch)])
    # predict pads 3 rows to a power of two and cuts the padding off again
    close(ours.predict(x[:3], verbose=0), expected[:3])
    close(ours.predict(x, batch_size=3, verbose=0), expected)  # two batches: the general path
    # the result is a fresh writable numpy array, as the general path's concatenation gives
    got = ours.predict_on_batch(x)
    assert isinstance(got, np.ndarray) and got.flags.writeable
    # a wrong shape is refused every time, not only the first
    for _ in range(2):
        with pytest.raises(ValueError, match="expects shape"):
            ours.predict_on_batch(np.zeros((2, 3, 5), "float32"))


def test_jax_array_and_integer_inputs():
    import jax.numpy as jnp

    rng = np.random.default_rng(4)
    ids = rng.integers(0, 9, size=(3, 4))

    def build(lib):
        return lib.Sequential(
            [lib.Input(shape=(4,), dtype="int32"), lib.layers.Embedding(9, 3), lib.layers.LSTM(2)]
        )

    ours, theirs = build(lstmkit), build(keras)
    ours.set_weights(theirs.get_weights())
    expected = theirs.predict_on_batch(ids)
    close(ours.predict_on_batch(ids), expected)
    close(ours.predict_on_batch(ids.astype("float32")), expected)  # cast to int32 as prepare_x
    close(ours.predict_on_batch(jnp.asarray(ids)), expected)
    close(ours(ids), expected)  # model(x) on numpy ids, handed to the jitted call as they are
    with pytest.raises(ValueError, match="ids must be in"):
        ours.layers[0](ids + 9)  # the eager call checks numpy ids as it checked jax ones


def test_jax_array_of_floats_goes_in_as_it_is(x):
    import jax

    ours, theirs = pair(seed=6)
    expected = theirs.predict_on_batch(x)
    for batch in (jax.device_put(x), jax.numpy.asarray(x)):
        got = ours.predict_on_batch(batch)
        assert isinstance(got, np.ndarray) and got.flags.writeable and got.dtype == np.float32
        close(got, expected)
        close(ours.predict(batch[:3], verbose=0), expected[:3])  # padded to 4 rows and cut
    with pytest.raises(ValueError, match="expects shape"):
        ours.predict_on_batch(jax.numpy.zeros((2, 3, 5), "float32"))


def test_grown_sequential_and_recompiled_model(x):
    ours, theirs = pair(seed=5)
    close(ours.predict_on_batch(x), theirs.predict_on_batch(x))
    ours.add(lstmkit.layers.Dense(3))
    theirs.add(keras.layers.Dense(3))
    ours.layers[-1].set_weights(theirs.layers[-1].get_weights())
    got = ours.predict_on_batch(x)
    assert got.shape == (4, 3)
    close(got, theirs.predict_on_batch(x))
    ours.compile("sgd", "mse")  # a fresh trainer: still the same numbers
    close(ours.predict_on_batch(x), theirs.predict_on_batch(x))


def test_stateful_model_keeps_the_general_path():
    ours = lstmkit.Sequential(
        [lstmkit.Input(batch_shape=(2, 3, 2)), lstmkit.layers.LSTM(2, stateful=True)]
    )
    theirs = keras.Sequential([keras.Input(shape=(6, 2)), keras.layers.LSTM(2)])
    ours.set_weights(theirs.get_weights())
    xs = np.random.default_rng(6).normal(size=(2, 3, 2)).astype("float32")
    ours.predict_on_batch(xs)
    # The states carried from the first call: the second equals one run over both halves.
    close(ours.predict_on_batch(xs), theirs.predict_on_batch(np.concatenate([xs, xs], 1)))


def test_a_weight_added_after_the_first_call_is_seen():
    # Keras refuses a weight added to a built layer; lstmkit takes it, and the lean path, which
    # reads each weight from where the previous call found it, must notice the new one.
    class Scale(lstmkit.layers.Layer):
        def call(self, x):
            s = getattr(self, "s", None)
            return x if s is None else x * s

    model = lstmkit.Sequential([lstmkit.Input(shape=(3,)), Scale()])
    x = np.arange(6, dtype="float32").reshape(2, 3)
    close(model.predict_on_batch(x), x)
    layer = model.layers[0]
    layer.s = layer.add_weight(shape=(), initializer="ones")
    layer.s.assign(2.0)
    close(model.predict_on_batch(x), 2 * x)
    close(model.predict(x, verbose=0), 2 * x)
