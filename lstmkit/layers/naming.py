"""Keras's automatic layer names: lstm, lstm_1, lstm_2, ... (snake case of the class name)."""

from __future__ import annotations

from collections import Counter

_name_counts: Counter = Counter()


def peek_name(base: str) -> str:
    """The name `unique_name(base)` will give next, without taking it."""
    n = _name_counts[base]
    return base if n == 0 else f"{base}_{n}"


def unique_name(base: str) -> str:
    """Keras's naming: lstm, lstm_1, lstm_2, ..."""
    name = peek_name(base)
    _name_counts[base] += 1
    return name


def reset_names() -> None:
    _name_counts.clear()
