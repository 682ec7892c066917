"""lstmkit's global key stream is computed on the host; it must be the stream JAX's own
`jax.random.split` gives (JAX is the oracle here)."""

import jax
import jax.extend.random
import numpy as np
import pytest

from lstmkit import utils
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


def test_threefry_matches_jax_on_random_pairs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        key = tuple(int(v) for v in rng.integers(0, 2**32, size=2, dtype=np.uint64))
        count = tuple(int(v) for v in rng.integers(0, 2**32, size=2, dtype=np.uint64))
        got = random_seed.threefry2x32(key, count)
        want = jax.extend.random.threefry_2x32(np.array(key, np.uint32), np.array(count, np.uint32))
        assert got == tuple(int(w) for w in np.asarray(want))


def test_unseeded_stream_and_reseeding():
    random_seed._state["key"] = None
    a, b = utils.next_key(), utils.next_key()
    assert not np.array_equal(jax.random.key_data(a), jax.random.key_data(b))
    utils.set_random_seed(7)
    first = np.asarray(jax.random.key_data(utils.next_key()))
    utils.set_random_seed(7)
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(utils.next_key())), first)
