"""Keras's names: `to_snake_case` (layer, loss, metric and optimizer names; weight-file groups)."""

from __future__ import annotations

import re


def to_snake_case(name: str) -> str:
    """`keras.src.utils.naming.to_snake_case`: GlobalMaxPooling1D -> global_max_pooling1d,
    LSTMCell -> lstm_cell, BinaryCrossentropy -> binary_crossentropy."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
