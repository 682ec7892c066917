"""Global random state, seeded like `keras.utils.set_random_seed`."""

from __future__ import annotations

import random

import jax
import numpy as np

_state = {"key": None}


def set_random_seed(seed: int) -> None:
    """Seed lstmkit's global key (and Python's and NumPy's generators, as Keras does)."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"set_random_seed: expected an int seed, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    _state["key"] = jax.random.key(seed)


def next_key() -> jax.Array:
    """A fresh key from the global stream; unseeded, the stream starts from OS entropy."""
    if _state["key"] is None:
        _state["key"] = jax.random.key(np.random.SeedSequence().entropy % (2**31))
    _state["key"], key = jax.random.split(_state["key"])
    return key
