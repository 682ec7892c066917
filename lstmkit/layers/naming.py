"""Keras's automatic layer names: lstm, lstm_1, lstm_2, ... (snake case of the class name)."""

from __future__ import annotations

import re
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


def snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()  # GlobalMaxPooling1D -> ..._pooling1d
