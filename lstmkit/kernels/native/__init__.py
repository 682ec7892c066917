"""Native CPU kernels (C++ through jax.ffi, compiled on first use): see build.py, lstm.py and
gru.py."""

from lstmkit.kernels.native.build import available, set_enabled
from lstmkit.kernels.native.gru import native_gru, try_native_gru
from lstmkit.kernels.native.lstm import native_lstm, try_native_lstm

__all__ = ["available", "native_gru", "native_lstm", "set_enabled", "try_native_gru",
           "try_native_lstm"]  # fmt: skip
