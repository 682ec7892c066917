"""Global random state, seeded like `keras.utils.set_random_seed`.

The stream is the one `jax.random.split` walks (`key, new = split(key)` per draw), computed on
the host: JAX's threefry on one key pair is a handful of integer operations, but run eagerly it
first compiles four small XLA programs (~0.25 s of CPU), paid by every process's first layer or
first fit. The host version gives the same keys (tests/utils/test_random_stream.py checks it
against `jax.random.split`); under another PRNG implementation, or JAX's older non-partitionable
threefry split, JAX's own functions run.
"""

from __future__ import annotations

import random

import jax
import numpy as np

_state: dict = {"key": None}  # the current key as its uint32 pair (a tuple), or a typed key
_MASK = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def set_random_seed(seed: int) -> None:
    """Seed lstmkit's global key (and Python's and NumPy's generators, as Keras does)."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"set_random_seed: expected an int seed, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    if _host_stream() and -(2**31) <= seed < 2**31:
        _state["key"] = (0, seed & _MASK)  # jax.random.key(seed)'s data for an int32 seed
    else:
        _state["key"] = jax.random.key(seed)


def _host_stream() -> bool:
    return (
        jax.config.jax_default_prng_impl == "threefry2x32" and jax.config.jax_threefry_partitionable
    )


def split(key: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """`jax.random.split(key)` on the host: threefry2x32 of the counters (0, 0) and (0, 1),
    the two in one pass of the rounds (run after a train step, half the interpreter's work was
    half the time: the code runs from caches the step has emptied)."""
    k0, k1 = key
    ks = (k0, k1, k0 ^ k1 ^ 0x1BD11BDA)
    a0, a1 = ks[0], ks[1]  # counter (0, 0)
    b0, b1 = ks[0], (1 + ks[1]) & _MASK  # counter (0, 1)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            a0, b0 = (a0 + a1) & _MASK, (b0 + b1) & _MASK
            a1 = (((a1 << r) | (a1 >> (32 - r))) & _MASK) ^ a0
            b1 = (((b1 << r) | (b1 >> (32 - r))) & _MASK) ^ b0
        s0, s1 = ks[(i + 1) % 3], ks[(i + 2) % 3] + i + 1
        a0, a1, b0, b1 = (a0 + s0) & _MASK, (a1 + s1) & _MASK, (b0 + s0) & _MASK, (b1 + s1) & _MASK
    return (a0, a1), (b0, b1)


def next_key() -> jax.Array:
    """A fresh key from the global stream; unseeded, the stream starts from OS entropy."""
    key = _next()
    return jax.random.wrap_key_data(key) if isinstance(key, np.ndarray) else key


def next_key_data() -> np.ndarray | jax.Array:
    """The next key of the same stream as its raw data (`jax.random.key_data`), a NumPy array
    where the stream is computed on the host: for a jitted step that wraps it itself (wrapping
    it here is an eager JAX call, 45-220 us)."""
    key = _next()
    return key if isinstance(key, np.ndarray) else jax.random.key_data(key)


def _next() -> np.ndarray | jax.Array:
    """The stream's next key: its uint32 data on the host stream, else a typed key."""
    if _state["key"] is None:
        seed = np.random.SeedSequence().entropy % (2**31)
        _state["key"] = (0, seed) if _host_stream() else jax.random.key(seed)
    current = _state["key"]
    if isinstance(current, tuple) and _host_stream():
        _state["key"], key = split(current)
        return np.array(key, np.uint32)
    if isinstance(current, tuple):  # the PRNG settings changed after seeding
        current = jax.random.wrap_key_data(np.array(current, np.uint32))
    _state["key"], key = jax.random.split(current)
    return key
