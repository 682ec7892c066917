"""Keras's `backend` helpers that make sense here, and the float32 matmul precision switch."""

from lstmkit.kernels.native import available as native_available
from lstmkit.kernels.native import set_enabled as set_native_enabled
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
    "native_available",
    "set_float32_matmul_precision",
    "set_native_enabled",
]


def clear_session() -> None:
    """Restart layer naming (lstm, lstm_1, ...) as `keras.backend.clear_session` does."""
    reset_names()


def epsilon() -> float:
    return 1e-7
