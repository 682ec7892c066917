"""lstmkit's global key stream is computed on the host; it must be the stream JAX's own
`jax.random.split` gives (JAX is the oracle here)."""

import jax
import jax.extend.random
import numpy as np
import pytest

import lstmkit
from lstmkit import utils
from lstmkit.models import training_setup as setup
from lstmkit.utils import random_seed


def jax_stream(seed, n):
    key, out = jax.random.key(seed), []
    for _ in range(n):
        key, new = jax.random.split(key)
        out.append(np.asarray(jax.random.key_data(new)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 1337, 2**31 - 1, 2**31 + 5])
def test_seeded_stream_is_jax_split_chain(seed):
    utils.set_random_seed(seed)
    ours = [utils.next_key() for _ in range(5)]
    assert all(jax.numpy.issubdtype(k.dtype, jax.dtypes.prng_key) for k in ours)
    for a, b in zip(ours, jax_stream(seed, 5)):
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(a)), b)


def test_split_matches_jax_on_random_keys():
    rng = np.random.default_rng(0)
    for _ in range(20):
        key = tuple(int(v) for v in rng.integers(0, 2**32, size=2, dtype=np.uint64))
        got = random_seed.split(key)
        typed = jax.random.wrap_key_data(np.array(key, np.uint32))
        want = np.asarray(jax.random.key_data(jax.random.split(typed)))  # (2, 2)
        assert got == tuple(tuple(int(w) for w in row) for row in want)


def test_unseeded_stream_and_reseeding():
    random_seed._state["key"] = None
    a, b = utils.next_key(), utils.next_key()
    assert not np.array_equal(jax.random.key_data(a), jax.random.key_data(b))
    utils.set_random_seed(7)
    first = np.asarray(jax.random.key_data(utils.next_key()))
    utils.set_random_seed(7)
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(utils.next_key())), first)


@pytest.mark.parametrize("partitionable", [True, False])
def test_key_data_is_the_same_stream(partitionable):
    # next_key_data (what train_on_batch hands its jitted step) walks the stream next_key walks,
    # on the host stream and on JAX's own (the older non-partitionable threefry).
    before = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", partitionable)
    try:
        utils.set_random_seed(11)
        keys = [np.asarray(jax.random.key_data(utils.next_key())) for _ in range(3)]
        utils.set_random_seed(11)
        data = [utils.next_key_data() for _ in range(3)]
    finally:
        jax.config.update("jax_threefry_partitionable", before)
    assert all(d.dtype == np.uint32 and d.shape == (2,) for d in data)
    for k, d in zip(keys, data):
        np.testing.assert_array_equal(np.asarray(d), k)
    assert isinstance(data[0], np.ndarray) == partitionable  # on the host: no JAX call


def test_train_on_batch_gets_the_same_key_as_before():
    # Dropout draws from the step's key: with the key handed over as raw data, a seeded
    # train_on_batch makes the same update as the step given the typed key.
    def model():
        utils.set_random_seed(3)
        m = lstmkit.Sequential([lstmkit.Input((4, 2)), lstmkit.layers.LSTM(3, dropout=0.5)])
        m.compile(lstmkit.optimizers.SGD(0.1), "mse")
        return m

    x = np.random.default_rng(0).normal(size=(5, 4, 2)).astype("float32")
    y = np.ones((5, 3), "float32")
    a = model()
    a.train_on_batch(x, y)
    b = model()
    xs, ys, sw, trainer = setup.training_data(b, "train_on_batch", x, y, None, None)
    setup.ensure_opt_state(b, trainer)
    fresh = trainer.fresh_metric_state()
    step = trainer.train_step(b.params, b.state, b.optimizer.opt_state, fresh, utils.next_key(),
                              xs, ys, sw)  # fmt: skip
    params = step[0]
    for p, q in zip(jax.tree.leaves(a.params), jax.tree.leaves(params)):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(q))
