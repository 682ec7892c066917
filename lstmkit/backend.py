"""Keras's `backend` helpers that make sense here, and the float32 matmul precision switch."""

from lstmkit.kernels.precision import (
    float32_matmul_precision,
    get_float32_matmul_precision,
    set_float32_matmul_precision,
)
from lstmkit.layers.base import reset_names

__all__ = [
    "clear_session",
    "epsilon",
    "float32_matmul_precision",
    "get_float32_matmul_precision",
    "set_float32_matmul_precision",
]


def clear_session() -> None:
    """Restart layer naming (lstm, lstm_1, ...) as `keras.backend.clear_session` does."""
    reset_names()


def epsilon() -> float:
    return 1e-7
