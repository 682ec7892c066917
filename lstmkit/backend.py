"""Keras's `backend` helpers that make sense here."""

from lstmkit.layers.base import reset_names


def clear_session() -> None:
    """Restart layer naming (lstm, lstm_1, ...) as `keras.backend.clear_session` does."""
    reset_names()


def epsilon() -> float:
    return 1e-7
