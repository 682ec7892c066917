"""Shared by the seed tests: a check that legacy (Keras 1/2) spellings warn, naming each one."""

import contextlib

import pytest


@pytest.fixture
def legacy_warnings():
    """`with legacy_warnings("output_dim", "nb_epoch"): ...` -> the block must raise a
    DeprecationWarning whose message names each of the given legacy spellings."""

    @contextlib.contextmanager
    def expect(*names):
        with pytest.warns(DeprecationWarning) as record:
            yield record
        messages = " | ".join(
            str(w.message) for w in record if issubclass(w.category, DeprecationWarning)
        )
        for name in names:
            assert name in messages, f"no DeprecationWarning names {name!r}: {messages}"

    return expect
